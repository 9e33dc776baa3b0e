"""``streamlit run`` that writes down how long the server took for every rerun a browser asked for.

    TC_RERUN_LOG=reruns.jsonl python benchmarks/timed_server.py run app.py [streamlit options]

The same as ``streamlit run …`` (this file then hands over to Streamlit's own command line), with two of
Streamlit's ``AppSession`` methods wrapped: the one that receives a browser's ``rerun_script`` message (a widget
changed, a page was picked, a fragment's ``run_every`` timer fired) and the one that tells the browser a run has
ended. For every request one JSON line goes to ``TC_RERUN_LOG``: the session, the page that ran, whether it was a
fragment run and an automatic one (``run_every``), and ``received`` / ``ended`` in seconds of
``time.monotonic()`` (the machine's monotonic clock, the one the benchmark reads too). ``ended - received`` is
the server's part of a rerun: waiting for the script thread, the script, and sending its last message; not the
network and not the browser's drawing. Requests that arrive while a run is going on end with the run that
serves them. Used by ``benchmarks/class_server.py``; not part of the app.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

RUN_ENDS = ("SCRIPT_STOPPED_WITH_SUCCESS", "SCRIPT_STOPPED_WITH_COMPILE_ERROR", "FRAGMENT_STOPPED_WITH_SUCCESS")


def install(path: str) -> None:
    """Wrap ``AppSession`` so that every rerun request's times go to ``path`` (appended, one JSON per line)."""
    from streamlit.runtime.app_session import AppSession

    out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open for the server's lifetime
    lock = threading.Lock()
    receive = AppSession.handle_backmsg
    on_event = AppSession._handle_scriptrunner_event_on_event_loop

    def handle_backmsg(self, msg):
        if msg.WhichOneof("type") == "rerun_script":
            state = msg.rerun_script
            self.__dict__.setdefault("_tc_pending", []).append(
                {"received": time.monotonic(), "fragment": bool(state.fragment_id),
                 "auto": bool(getattr(state, "is_auto_rerun", False))})
        return receive(self, msg)

    def handle_event(self, sender, event, forward_msg=None, exception=None, client_state=None,
                     page_script_hash=None, fragment_ids_this_run=None, pages=None, run_descriptor=None):
        result = on_event(self, sender, event, forward_msg, exception, client_state, page_script_hash,
                          fragment_ids_this_run, pages, run_descriptor)
        if sender is not None and sender is not self._scriptrunner:
            return result  # a stale runner's event: Streamlit ignores it too
        if event.name == "SCRIPT_STARTED":
            page = (pages or {}).get(page_script_hash) or {}
            self.__dict__["_tc_page"] = page.get("url_pathname") or page.get("page_name") or ""
        elif event.name in RUN_ENDS:
            ended = time.monotonic()
            pending, self.__dict__["_tc_pending"] = self.__dict__.get("_tc_pending", []), []
            lines = [json.dumps({"session": self.id, "page": self.__dict__.get("_tc_page", ""), **request,
                                 "ended": ended, "end": event.name}) for request in pending]
            if lines:
                with lock:
                    out.write("\n".join(lines) + "\n")
        return result

    AppSession.handle_backmsg = handle_backmsg
    AppSession._handle_scriptrunner_event_on_event_loop = handle_event


def main() -> None:
    path = os.environ.get("TC_RERUN_LOG")
    if path:
        install(path)
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
