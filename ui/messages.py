"""Messages made in English outside the interface (the trainers, the AddSub parser), shown in the session's language.

:mod:`trainers` and the CLI stay free of the interface and speak English ("Finished 60 steps in 1.8 s.
Validation exact-match 0.031, per-token accuracy 0.512."). :func:`localize` translates such a message sentence
by sentence from the patterns below, with the numbers kept; a sentence it does not know (a library's error,
a path) stays in English after the translated part, so no detail is lost. A clause inside a sentence that says
why a Ray run or the connection to its cluster ended (the group ``why``) is translated from :data:`CLAUSES`,
what a checkpoint's config field must be (the group ``wanted``) from :data:`WANTED`, and why the core refuses a
checkpoint's model config (the group ``config_error``) from :data:`CONFIG_ERRORS`. Besides the trainers' progress
and failures, the table holds why a checkpoint cannot be used (:class:`trainers.checkpoint.CheckpointError`: its
paths, field and tensor names, shapes, dtypes and any library's text kept), why a server limit is malformed
(:func:`ui.limits.read_limits`), where a GPT-2 model's files go when a typed name is not here
(:func:`trainers.gpt2.resolve_gpt2`), why the Hugging Face Hub cannot be used (:mod:`trainers.hub`), what a
``TrainConfig`` refuses of the Train page's settings (:mod:`trainers.config`) and why a trained model cannot read
a text (a character model's unknown characters, :mod:`trainers.tasks.lm`).
"""

from __future__ import annotations

import re

from ui.i18n import N_, _

NUMBER = r"[-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?"

# (pattern of one English sentence, its translatable template with the pattern's named groups).
PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(p), t) for p, t in [
        (r"Waiting to start\.", N_("Waiting to start.")),
        # a trained model's tokenizer kept nothing of the text (Chinese for a character model of Shakespeare, say)
        (r"the text encodes to no token", N_("the text encodes to no token")),
        # a prompt or a sentence with characters a character-level model never saw (trainers.tasks.lm)
        (r"(?P<chars>'.*'|\".*\"): not in the (?P<name>\S+) character vocabulary; the model only knows the "
         r"(?P<n>\d+) characters of its corpus\.",
         N_("{chars}: not in the {name} character vocabulary; the model only knows the {n} characters of its corpus.")),
        (r"Stopped before it started\.", N_("Stopped before it started.")),
        (r"Stopped while waiting for a free training slot\.", N_("Stopped while waiting for a free training slot.")),
        (r"Loading the data and building the model…", N_("Loading the data and building the model…")),
        (rf"Downloading (?P<hub>\S+) \((?P<mb>{NUMBER}) MB\) from the Hugging Face Hub unless it is cached, then "
         r"building the model…",
         N_("Downloading {hub} ({mb} MB) from the Hugging Face Hub unless it is cached, then building the model…")),
        (rf"Step (?P<step>\d+): training loss (?P<loss>{NUMBER})\.", N_("Step {step}: training loss {loss}.")),
        (rf"Finished (?P<steps>\d+) steps in (?P<s>{NUMBER}) s\.", N_("Finished {steps} steps in {s} s.")),
        (r"Stopped by request after (?P<steps>\d+) steps\.", N_("Stopped by request after {steps} steps.")),
        (r"Stopped by request during the final evaluation, after (?P<steps>\d+) steps\.",
         N_("Stopped by request during the final evaluation, after {steps} steps.")),
        (rf"Validation exact-match (?P<em>{NUMBER}), per-token accuracy (?P<acc>{NUMBER})\.",
         N_("Validation exact-match {em}, per-token accuracy {acc}.")),
        (rf"Validation perplexity per word (?P<ppl>{NUMBER})\.", N_("Validation perplexity per word {ppl}.")),
        (rf"Validation loss (?P<loss>{NUMBER}) nats per character\.",
         N_("Validation loss {loss} nats per character.")),
        (rf"Validation loss (?P<loss>{NUMBER})\.", N_("Validation loss {loss}.")),
        (rf"Validation BLEU (?P<bleu>{NUMBER}) \(greedy\), loss (?P<loss>{NUMBER})\.",
         N_("Validation BLEU {bleu} (greedy), loss {loss}.")),
        # The job manager (trainers.jobs) and the worker (trainers.worker)
        (r"Starting a worker…", N_("Starting a worker…")),
        (rf"Stopped: no tab of its owner was open for (?P<s>{NUMBER}) s\.",
         N_("Stopped: no tab of its owner was open for {s} s.")),
        (r"Stopped: the server stopped while this run trained; its progress up to then is kept\.",
         N_("Stopped: the server stopped while this run trained; its progress up to then is kept.")),
        (r"Stopped by request\.", N_("Stopped by request.")),
        (r"Its process did not end in time and was ended; no model was kept\.",
         N_("Its process did not end in time and was ended; no model was kept.")),
        (r"Training failed: the run needed more memory than this server allows a run\.",
         N_("Training failed: the run needed more memory than this server allows a run.")),
        (r"Training failed: the training process ended unexpectedly: it was killed \(signal 9: out of memory, or "
         r"stopped by the system\)\.",
         N_("Training failed: the training process ended unexpectedly: it was killed (signal 9: out of memory, or "
            "stopped by the system).")),
        (r"Training failed: the training process ended unexpectedly: it exited with code (?P<code>-?\d+)\.",
         N_("Training failed: the training process ended unexpectedly: it exited with code {code}.")),
        # The Ray path's failures (trainers.ray_backend); {why} is one of CLAUSES below, translated too
        (r"Training failed: the connection to the Ray cluster at (?P<address>\S+) was lost \((?P<why>.*)\)\.",
         N_("Training failed: the connection to the Ray cluster at {address} was lost ({why}).")),
        (r"Training failed: the Ray worker running it ended unexpectedly: (?P<why>.*)\.",
         N_("Training failed: the Ray worker running it ended unexpectedly: {why}.")),
        (r"Training failed: the Ray cluster did not take the run: (?P<why>.*)\.",
         N_("Training failed: the Ray cluster did not take the run: {why}.")),
        (r"Training failed: the Ray cluster lost the run: (?P<detail>.*)\.",
         N_("Training failed: the Ray cluster lost the run: {detail}.")),
        (r"Training failed: the trained model could not be read on the Ray worker: (?P<detail>.*)",
         N_("Training failed: the trained model could not be read on the Ray worker: {detail}")),
        (r"Training failed: the trained model could not be saved on this server: (?P<detail>.*)",
         N_("Training failed: the trained model could not be saved on this server: {detail}")),
        (r"Training failed: (?P<detail>.*)", N_("Training failed: {detail}")),
        # The Ray path (trainers.ray_backend): a run waiting for a node, and a cluster that cannot be used
        (r"Waiting for a Ray worker with (?P<cpus>\d+) CPU\(s\) and (?P<mb>\d+) MB free…",
         N_("Waiting for a Ray worker with {cpus} CPU(s) and {mb} MB free…")),
        (r"Waiting for a Ray worker with (?P<cpus>\d+) CPU\(s\) free…", N_("Waiting for a Ray worker with {cpus} CPU(s) free…")),
        (r"The Ray cluster at (?P<address>\S+) cannot be reached \((?P<reason>[^)]*)\): start its head with `ray start "
         r"--head`, or unset TC_RAY_ADDRESS to train on this machine\.",
         N_("The Ray cluster at {address} cannot be reached ({reason}): start its head with `ray start --head`, or "
            "unset TC_RAY_ADDRESS to train on this machine.")),
        (r"TC_RAY_ADDRESS is set, but Ray is not installed on this server: install it with `pip install ray` \(the "
         r"worker nodes need it too\), or unset TC_RAY_ADDRESS to train on this machine\.",
         N_("TC_RAY_ADDRESS is set, but Ray is not installed on this server: install it with `pip install ray` (the "
            "worker nodes need it too), or unset TC_RAY_ADDRESS to train on this machine.")),
        (r"The Ray cluster at (?P<address>\S+) answered, but connecting to it failed: (?P<why>.*) \(is the head "
         r"running this Ray version\?\), or unset TC_RAY_ADDRESS to train on this machine\.",
         N_("The Ray cluster at {address} answered, but connecting to it failed: {why} (is the head running this "
            "Ray version?), or unset TC_RAY_ADDRESS to train on this machine.")),
        (r"Connecting to the Ray cluster at (?P<address>\S+) failed: (?P<detail>.*)",
         N_("Connecting to the Ray cluster at {address} failed: {detail}")),
        (r"The connection to the Ray cluster at (?P<address>\S+) was lost: (?P<why>.*)\.",
         N_("The connection to the Ray cluster at {address} was lost: {why}.")),
        (rf"No node of the Ray cluster at (?P<address>\S+) has (?P<cpus>\d+) CPU\(s\) and (?P<mb>\d+) MB of memory "
         rf"for a run \(the largest has (?P<node_cpus>{NUMBER}) CPU\(s\) and (?P<node_mb>\d+) MB\): add a bigger "
         r"node, or lower TC_JOB_THREADS or TC_JOB_MEMORY_MB\.",
         N_("No node of the Ray cluster at {address} has {cpus} CPU(s) and {mb} MB of memory for a run (the largest "
            "has {node_cpus} CPU(s) and {node_mb} MB): add a bigger node, or lower TC_JOB_THREADS or "
            "TC_JOB_MEMORY_MB.")),
        (rf"No node of the Ray cluster at (?P<address>\S+) has (?P<cpus>\d+) CPU\(s\) for a run \(the largest has "
         rf"(?P<node_cpus>{NUMBER}) CPU\(s\) and (?P<node_mb>\d+) MB\): add a bigger node, or lower TC_JOB_THREADS "
         r"or TC_JOB_MEMORY_MB\.",
         N_("No node of the Ray cluster at {address} has {cpus} CPU(s) for a run (the largest has {node_cpus} "
            "CPU(s) and {node_mb} MB): add a bigger node, or lower TC_JOB_THREADS or TC_JOB_MEMORY_MB.")),
        (r"TC_RAY_ADDRESS should name the Ray head as host:port \(as `ray start --head` prints it\), ray://host:port "
         r"or auto, but it is (?P<value>.*)\.",
         N_("TC_RAY_ADDRESS should name the Ray head as host:port (as `ray start --head` prints it), "
            "ray://host:port or auto, but it is {value}.")),
        # The AddSub parser (trainers.tasks.addsub.parse_expression)
        (r"The expression is empty: type two numbers with \+ or - between them, e\.g\. -30 - -34\.",
         N_("The expression is empty: type two numbers with + or - between them, e.g. -30 - -34.")),
        (r"Could not read (?P<text>.*) as an addition or subtraction of two whole numbers; write it like -30 - -34 "
         r"or 12\+7\.",
         N_("Could not read {text} as an addition or subtraction of two whole numbers; write it like -30 - -34 or "
            "12+7.")),
        (r"operands must be between (?P<lo>-?\d+) and (?P<hi>-?\d+) \(got (?P<got>-?\d+)\)\.",
         N_("Operands must be between {lo} and {hi} (got {got}).")),
        # A malformed checkpoint (trainers.checkpoint.CheckpointError): the reason a picker lists it as unusable.
        # Paths, field names, tensor names, shapes, dtypes and a library's text ({detail}) are kept as they are;
        # {wanted} is one of WANTED below, translated too.
        (r"(?P<path>.+?) has no tokenizer\.json, so its text cannot be encoded",
         N_("{path} has no tokenizer.json, so its text cannot be encoded")),
        (r"(?P<path>.+?CURRENT) cannot be read: (?P<detail>.*)", N_("{path} cannot be read: {detail}")),
        (r"(?P<path>.+?) should name a version sub-folder \(v-…\), but says (?P<name>.*)",
         N_("{path} should name a version sub-folder (v-…), but says {name}")),
        (r"(?P<path>.+?) is not a checkpoint folder \(it does not exist or is a file\)",
         N_("{path} is not a checkpoint folder (it does not exist or is a file)")),
        (r"(?P<path>.+?) names (?P<name>\S+), which is not in the folder", N_("{path} names {name}, which is not in the folder")),
        (r"(?P<path>.+?) is not a checkpoint: it needs config\.json and model\.safetensors",
         N_("{path} is not a checkpoint: it needs config.json and model.safetensors")),
        (r"(?P<path>.+?) is (?P<size>[\d,]+) bytes; a checkpoint's config is at most (?P<limit>[\d,]+)",
         N_("{path} is {size} bytes; a checkpoint's config is at most {limit}")),
        (r"(?P<path>.+?) is not valid JSON: (?P<detail>.*)", N_("{path} is not valid JSON: {detail}")),
        (r"(?P<path>.+?) holds a JSON (?P<type>\w+), not the object of a checkpoint",
         N_("{path} holds a JSON {type}, not the object of a checkpoint")),
        (r"(?P<path>.+?) lacks the (?P<key>'\w+') entry of a checkpoint", N_("{path} lacks the {key} entry of a checkpoint")),
        (r"(?P<path>.+?) was written by a newer version \(format (?P<format>-?\d+)\); update the code",
         N_("{path} was written by a newer version (format {format}); update the code")),
        (r"(?P<path>.+?): model_config lacks vocab_size", N_("{path}: model_config lacks vocab_size")),
        (r"(?P<path>.+?): its model_config is not valid: (?P<config_error>.*)",
         N_("{path}: its model_config is not valid: {config_error}")),
        (r"(?P<path>.+?): a (?P<task>\S+) model is an encoder-decoder, but model_config describes a (?P<layout>\S+) model",
         N_("{path}: a {task} model is an encoder-decoder, but model_config describes a {layout} model")),
        (r"(?P<path>.+?) describes a model of (?P<n>[\d,]+) numbers; checkpoints here hold at most (?P<limit>[\d,]+)",
         N_("{path} describes a model of {n} numbers; checkpoints here hold at most {limit}")),
        (r"(?P<path>.+?) is not a readable safetensors file: (?P<detail>.*)",
         N_("{path} is not a readable safetensors file: {detail}")),
        (r"(?P<path>.+?) holds a tensor (?P<name>'[^']*') that the model in config\.json does not have: the weights and "
         r"the config come from different models",
         N_("{path} holds a tensor {name} that the model in config.json does not have: the weights and the config "
            "come from different models")),
        (r"(?P<path>.+?): tensor (?P<name>'[^']*') has shape (?P<shape>\[[^\]]*\]), but config\.json describes a "
         r"model whose (?P=name) has shape (?P<expected>\[[^\]]*\]): the weights and the config do not match",
         N_("{path}: tensor {name} has shape {shape}, but config.json describes a model whose {name} has shape "
            "{expected}: the weights and the config do not match")),
        (r"(?P<path>.+?): tensor (?P<name>'[^']*') is stored as (?P<dtype>\w+); weights are F32, F16 or BF16",
         N_("{path}: tensor {name} is stored as {dtype}; weights are F32, F16 or BF16")),
        (r"(?P<path>.+?) lacks tensor (?P<name>'[^']*'), which the model of config\.json needs",
         N_("{path} lacks tensor {name}, which the model of config.json needs")),
        (r"(?P<path>.+?) is a (?P<task>\S+) model but has no tokenizer\.json",
         N_("{path} is a {task} model but has no tokenizer.json")),
        (r"(?P<path>.+?) is (?P<size>[\d,]+) bytes, more than a tokenizer here may be",
         N_("{path} is {size} bytes, more than a tokenizer here may be")),
        (r"(?P<path>.+?) is not a tokenizer file: (?P<detail>.*)", N_("{path} is not a tokenizer file: {detail}")),
        (r"(?P<path>.+?) has (?P<n>\d+) tokens, but the model's vocabulary has (?P<vocab>\d+): the tokenizer belongs "
         r"to another model",
         N_("{path} has {n} tokens, but the model's vocabulary has {vocab}: the tokenizer belongs to another model")),
        (r"(?P<path>.+?) does not fit the model of config\.json: (?P<detail>.*)",
         N_("{path} does not fit the model of config.json: {detail}")),
        (r"(?P<path>.+?) lacks (?P<n>\d+) tensor\(s\) the model of config\.json needs, e\.g\. (?P<name>.*)",
         N_("{path} lacks {n} tensor(s) the model of config.json needs, e.g. {name}")),
        (r"(?P<path>.+?) changed while it was read; try again", N_("{path} changed while it was read; try again")),
        # A GPT-2-family folder the pickers offer (trainers.gpt2.load_gpt2 and gpt2_config)
        (r"(?P<path>.+?) is not a folder", N_("{path} is not a folder")),
        (r"(?P<path>.+?) lacks (?P<missing>[\w., ]+): a GPT-2 folder needs (?P<files>.*)",
         N_("{path} lacks {missing}: a GPT-2 folder needs {files}")),
        (r"(?P<path>.+?) has no config\.json", N_("{path} has no config.json")),
        (r"(?P<path>.+?) is not a JSON object", N_("{path} is not a JSON object")),
        (r"(?P<path>.+?) is not a tokenizers file: (?P<detail>.*)", N_("{path} is not a tokenizer file: {detail}")),
        (r"(?P<path>.+?) has (?P<n>\d+) tokens, more than the model's vocab_size (?P<vocab>\d+): the tokenizer belongs to "
         r"another model",
         N_("{path} has {n} tokens, more than the model's vocab_size {vocab}: the tokenizer belongs to another model")),
        (r"(?P<path>.+?) lacks the tensor (?P<name>'[^']*') that config\.json's GPT-2 needs",
         N_("{path} lacks the tensor {name} that config.json's GPT-2 needs")),
        (r"(?P<path>.+?): tensor (?P<name>'[^']*') has shape (?P<shape>\[[^\]]*\]), but config\.json describes one of "
         r"shape (?P<expected>\[[^\]]*\]): the weights and the config do not match",
         N_("{path}: tensor {name} has shape {shape}, but config.json describes one of shape {expected}: the weights "
            "and the config do not match")),
        (r"(?P<path>.+?): lm_head\.weight has shape (?P<shape>\[[^\]]*\]), expected (?P<expected>\[[^\]]*\])",
         N_("{path}: lm_head.weight has shape {shape}, expected {expected}")),
        (r"(?P<path>.+?) lacks lm_head\.weight, which an untied GPT-2 \(tie_word_embeddings false\) needs",
         N_("{path} lacks lm_head.weight, which an untied GPT-2 (tie_word_embeddings false) needs")),
        (r"(?P<path>.+?): model_type is (?P<value>.*), not 'gpt2'", N_("{path}: model_type is {value}, not 'gpt2'")),
        (r"(?P<path>.+?): n_embd=(?P<d_model>\d+) is not divisible by n_head=(?P<n_heads>\d+)",
         N_("{path}: n_embd={d_model} is not divisible by n_head={n_heads}")),
        (r"(?P<path>.+?): activation_function (?P<value>.*) is not one of (?P<names>\[.*\])",
         N_("{path}: activation_function {value} is not one of {names}")),
        (r"(?P<path>.+?): (?P<field>\w+)=(?P<value>\S+) is not supported \(our core computes (?P=field)=(?P<supported>\w+)\)",
         N_("{path}: {field}={value} is not supported (our core computes {field}={supported})")),
        # after the sentences above, whose library text ({detail}) may itself say "x must be y, got z"
        (r"(?P<path>.+?): (?P<field>[\w.]+) must be (?P<wanted>.+?), got (?P<value>.*)",
         N_("{path}: {field} must be {wanted}, got {value}")),
        # A GPT-2 name typed into a picker's GPT-2 folder field that neither models/ nor the Hub cache holds
        # (trainers.gpt2.resolve_gpt2), and why the Hub cannot be used (trainers.hub.hub_unavailable_reason)
        (r"(?P<name>\S+) is neither a folder nor in the Hugging Face cache: put (?P<files>.+?) of (?P=name) \(from "
         r"(?P<url>https://huggingface\.co/\S+)\) into the folder (?P<folder>.+), or name any folder holding them",
         N_("{name} is neither a folder nor in the Hugging Face cache: put {files} of {name} (from {url}) into the "
            "folder {folder}, or name any folder holding them")),
        (r"offline mode is on \((?P<setting>\w+=[^)]*)\)", N_("offline mode is on ({setting})")),
        (r"connecting to (?P<address>\S+) failed \((?P<detail>.*)\)", N_("connecting to {address} failed ({detail})")),
        (rf"(?P<address>\S+) did not answer within (?P<s>{NUMBER}) s", N_("{address} did not answer within {s} s")),
        # What the Train page's widgets can still ask that a TrainConfig refuses (trainers.config.TrainConfig)
        (rf"learning rate must be > 0, got (?P<lr>{NUMBER})", N_("learning rate must be > 0, got {lr}")),
        (r"label smoothing cannot be combined with the adaptive softmax; set one of them to off",
         N_("label smoothing cannot be combined with the adaptive softmax; set one of them to off")),
        # A malformed server limit (ui.limits.read_limits, ui.jobs.max_jobs_from_env), shown on the Train page
        (r"(?P<name>TC_MAX_JOBS)=(?P<value>.*) must be a whole number of at least (?P<minimum>\d+) \(concurrent "
         r"training jobs\)\.",
         N_("{name}={value} must be a whole number of at least {minimum} (concurrent training jobs).")),
        (r"(?P<name>TC_[A-Z_]+)=(?P<value>.*) must be a whole number of at least (?P<minimum>\d+)\.",
         N_("{name}={value} must be a whole number of at least {minimum}.")),
    ]
]

# Clauses inside a sentence above (its group named "why"): why a Ray run or the connection to the cluster ended
# (trainers.ray_backend: _Driver.poll's "gone", _DriverHandle's "gone"). Any other clause (a library's) stays.
CLAUSES: list[tuple[re.Pattern, str]] = [
    (re.compile(p), t) for p, t in [
        (r"it was killed", N_("it was killed")),
        (r"it died \(killed, out of memory, or its node left the cluster\)",
         N_("it died (killed, out of memory, or its node left the cluster)")),
        (r"it could not start the run: (?P<detail>.*)", N_("it could not start the run: {detail}")),
        (r"the process holding it ended", N_("the process holding it ended")),
        (r"the process holding it ended \((?P<error>\w+)\)", N_("the process holding it ended ({error})")),
        (r"the process holding it ended with exit code (?P<code>-?\d+)",
         N_("the process holding it ended with exit code {code}")),
        (r"the process holding it did not answer within (?P<s>\d+) s",
         N_("the process holding it did not answer within {s} s")),
        (r"it was closed", N_("it was closed")),
    ]
]

# What a field of a checkpoint's config.json must be (the group "wanted" of "{path}: {field} must be {wanted}, got
# {value}", trainers.checkpoint.check_meta). Names (tasks, dtypes, activations) and JSON's null/true/false are kept.
WANTED: list[tuple[re.Pattern, str]] = [
    (re.compile(p), t) for p, t in [
        (r"a whole number \((?P<n>\d+)\)", N_("a whole number ({n})")),
        (r"a whole number", N_("a whole number")),
        (r"a positive whole number", N_("a positive whole number")),
        (r"a whole number from (?P<low>[\d,]+) to (?P<high>[\d,]+)", N_("a whole number from {low} to {high}")),
        (r"one of (?P<names>.+)", N_("one of {names}")),
        (r"'transformer' or 'lstm'", N_("'transformer' or 'lstm'")),
        (r"null, 'word', 'char' or 'bpe'", N_("null, 'word', 'char' or 'bpe'")),
        (r"an object", N_("an object")),
        (r"text", N_("text")),
        (r"a number in \[0, 1\)", N_("a number in [0, 1)")),
        (r"a small positive number", N_("a small positive number")),
        (r"a number from (?P<low>\d+) to (?P<high>\d+)", N_("a number from {low} to {high}")),
        (r"true or false", N_("true or false")),
        (r"null or a token id", N_("null or a token id")),
        (r"null or a list of up to (?P<n>\d+) whole numbers", N_("null or a list of up to {n} whole numbers")),
        (r"null or a whole number", N_("null or a whole number")),
        (r"a list of (?P<n>\d+) token strings \(AddSub's vocabulary\)", N_("a list of {n} token strings (AddSub's vocabulary)")),
    ]
]

# Why the core refuses a checkpoint's model_config (the group "config_error" of "{path}: its model_config is not
# valid: {config_error}"): transformer.models.TransformerConfig, check_adaptive_cutoffs, trainers.lstm.LSTMConfig.
# Only those that trainers.checkpoint.check_meta's own field checks let through; any other text (torch's) stays.
CONFIG_ERRORS: list[tuple[re.Pattern, str]] = [
    (re.compile(p), t) for p, t in [
        (r"d_model=(?P<d_model>\d+) is not divisible by n_heads=(?P<n_heads>\d+): each head gets d_k = d_model / "
         r"n_heads dimensions",
         N_("d_model={d_model} is not divisible by n_heads={n_heads}: each head gets d_k = d_model / n_heads "
            "dimensions")),
        (r"positional must be one of (?P<names>\[.*\]), got (?P<value>.*)",
         N_("positional must be one of {names}, got {value}")),
        (r"unknown (?P<config>TransformerConfig|LSTMConfig) fields: (?P<names>\[.*\])",
         N_("unknown {config} fields: {names}")),
        (r"share_embeddings joins the source and target embeddings of an encoder-decoder; a decoder-only model has "
         r"one embedding already",
         N_("share_embeddings joins the source and target embeddings of an encoder-decoder; a decoder-only model "
            "has one embedding already")),
        (r"share_embeddings needs one vocabulary for source and target, but src_vocab_size=(?P<src>\d+) differs from "
         r"vocab_size=(?P<vocab>\d+)",
         N_("share_embeddings needs one vocabulary for source and target, but src_vocab_size={src} differs from "
            "vocab_size={vocab}")),
        (r"pad_id=(?P<pad_id>-?\d+) is not a token id of the vocabulary", N_("pad_id={pad_id} is not a token id of the vocabulary")),
        (r"adaptive_cutoffs must be increasing whole numbers, got (?P<value>.*)",
         N_("adaptive_cutoffs must be increasing whole numbers, got {value}")),
        (r"adaptive_cutoffs must lie between 1 and vocab_size - 1 = (?P<top>\d+), got (?P<value>.*)",
         N_("adaptive_cutoffs must lie between 1 and vocab_size - 1 = {top}, got {value}")),
        (r"adaptive_cutoffs \(adaptive softmax\) is offered for the decoder-only model only",
         N_("adaptive_cutoffs (adaptive softmax) is offered for the decoder-only model only")),
        (r"an LSTMConfig has family 'lstm', got (?P<value>.*)", N_("an LSTMConfig has family 'lstm', got {value}")),
    ]
]

# The groups translated from a table of clauses; any other group is kept as it is.
_CLAUSE_TABLES = {"why": CLAUSES, "wanted": WANTED, "config_error": CONFIG_ERRORS}

# A sentence ends at ". " before a capital letter or a digit-free word; decimals ("2.263") never split.
_SENTENCE_END = re.compile(r"(?<=[.…])\s+(?=[A-Z])")


def localize(message: str) -> str:
    """``message`` (English, from the trainers or a parser) in the session's language, sentence by sentence.

    Known sentences are translated with their numbers kept; unknown ones (a library's error text) stay as
    they are. "Training failed: …" keeps its English detail after the translated lead.
    """
    if not message:
        return message
    whole = _match(message)
    if whole is not None:
        return whole
    return " ".join(_match(sentence) or sentence for sentence in _SENTENCE_END.split(message))


def _match(sentence: str) -> str | None:
    for pattern, template in PATTERNS:
        m = pattern.fullmatch(sentence.strip())
        if m:
            values = {name: _clause(value, _CLAUSE_TABLES[name]) if name in _CLAUSE_TABLES else value
                      for name, value in m.groupdict().items()}
            return _(template).format(**values)
    return None


def _clause(text: str, table: list[tuple[re.Pattern, str]] = CLAUSES) -> str:
    """A clause of ``table`` (:data:`CLAUSES`, :data:`WANTED`, :data:`CONFIG_ERRORS`) in the session's language; any
    other text as it is."""
    for pattern, template in table:
        m = pattern.fullmatch(text)
        if m:
            return _(template).format(**m.groupdict())
    return text
