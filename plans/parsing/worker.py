"""The bounded parse worker: ``python -m plans.parsing.worker DIR`` (started by ``bounded``).

DIR holds ``request.json`` (name, size limit, units, limits) and ``upload.bin``; the
worker lowers its priority and sets its limits before reading the file, then writes
``result.json`` (the tree, or the refusal's message) and, for a converted .doc/.odt,
``converted.docx``. Out of memory it exits with ``EXIT_MEMORY``; over its CPU time the
kernel stops it (SIGXCPU). No Django, no database, no environment of the web process.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

from plans.parsing.bounded import EXIT_MEMORY
from plans.parsing.dispatch import read_upload
from plans.parsing.errors import PlanParseError
from plans.parsing.rules import CONVERTED_SUFFIXES, suffix_of
from plans.parsing.tree import plan_to_json
from plans.parsing.units import UnitDirectory


def _address_space() -> int:
    """The process's current virtual size (bytes)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _limit(limits: dict[str, Any], converting: bool) -> None:
    with_nice = getattr(os, "nice", None)
    if with_nice is not None:
        with_nice(10)  # the web process's requests come first
    budget = limits["convert_memory_bytes"] if converting else limits["memory_bytes"]
    address_space = _address_space() + int(budget)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    cpu = int(limits["cpu_seconds"]) + (int(limits["convert_seconds"]) if converting else 0)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["file_bytes"]), int(limits["file_bytes"])))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> int:
    work = Path(argv[1])
    request = json.loads((work / "request.json").read_text(encoding="utf-8"))
    name = str(request["name"])
    _limit(request["limits"], suffix_of(name) in CONVERTED_SUFFIXES)
    try:
        units = UnitDirectory.from_json(request["units"])
        data = (work / "upload.bin").read_bytes()
        try:
            read = read_upload(name, data, units, max_bytes=int(request["max_bytes"]))
        except PlanParseError as exc:
            payload: dict[str, Any] = {"ok": False, "message": exc.message, "row": exc.row, "text": exc.text}
        else:
            if read.converted is not None:
                (work / "converted.docx").write_bytes(read.converted)
            payload = {"ok": True, "plan": plan_to_json(read.plan), "converted": read.converted is not None}
        del data
        (work / "result.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    except MemoryError:
        os._exit(EXIT_MEMORY)  # noqa: SLF001 - nothing more can be allocated to unwind politely
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
