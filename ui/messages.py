"""Messages made in English outside the interface (the trainers, the AddSub parser), shown in the session's language.

:mod:`trainers` and the CLI stay free of the interface and speak English ("Finished 60 steps in 1.8 s.
Validation exact-match 0.031, per-token accuracy 0.512."). :func:`localize` translates such a message sentence
by sentence from the patterns below, with the numbers kept; a sentence it does not know (a library's error,
a path) stays in English after the translated part, so no detail is lost. A clause inside a sentence that says
why a Ray run or the connection to its cluster ended (the group ``why``) is translated from :data:`CLAUSES`.
"""

from __future__ import annotations

import re

from ui.i18n import N_, _

NUMBER = r"[-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?"

# (pattern of one English sentence, its translatable template with the pattern's named groups).
PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(p), t) for p, t in [
        (r"Waiting to start\.", N_("Waiting to start.")),
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
            values = {name: _clause(value) if name == "why" else value for name, value in m.groupdict().items()}
            return _(template).format(**values)
    return None


def _clause(text: str) -> str:
    """A clause of :data:`CLAUSES` in the session's language; any other text as it is."""
    for pattern, template in CLAUSES:
        m = pattern.fullmatch(text)
        if m:
            return _(template).format(**m.groupdict())
    return text
