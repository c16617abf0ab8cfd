"""What every stand-in device tool shares: the node's declared accelerators and the faults to show.

Stand-ins print the real tools' formats for devices that do not exist (lab nodes have none). Files:
  GRID_ACCELERATORS (default /etc/grid/accelerators): `MODEL COUNT` lines, e.g. `ascend-910b 8`; without that
    file, what grid configured as the node's pool in its node facts (GRID_NODE_FACTS, default /etc/grid/node.json:
    "accelerator", "accelerators"; "cpu" means none), as on every lab node
  GRID_FAULTS (default /etc/grid/faults): one fault per line (README.md in this folder)
A bad line in either file stops the tool with exit code 2 and says which line: a typo must not look healthy.
"""

import json
import os
import sys

ACCELERATORS = os.environ.get("GRID_ACCELERATORS", "/etc/grid/accelerators")
NODE_FACTS = os.environ.get("GRID_NODE_FACTS", "/etc/grid/node.json")
FAULTS = os.environ.get("GRID_FAULTS", "/etc/grid/faults")
HEALTH_FAULTS = ("warning", "alarm", "critical")


class Device:
    def __init__(self, index, model):
        self.index = index
        self.model = model
        self.temperature = 38 + index % 5
        self.ecc = 0
        self.health = "ok"  # or one of HEALTH_FAULTS
        self.link_up = True
        self.bus = "0000:%02X:00.0" % (0x18 + index * 0x10)


def fail(message):
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {message}\n")
    sys.exit(2)


def _declared():
    """(line number, [MODEL, COUNT]) per declaration: the accelerators file, else the node facts' pool."""
    if os.path.exists(ACCELERATORS):
        return _lines(ACCELERATORS)
    try:
        with open(NODE_FACTS, encoding="utf-8") as handle:
            facts = json.load(handle)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        fail(f"{NODE_FACTS}: not readable JSON ({exc})")
    model, count = str(facts.get("accelerator") or "cpu"), str(facts.get("accelerators") or 0)
    return [] if model == "cpu" or count == "0" else [(1, [model, count])]


def _lines(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            out.append((number, line.split()))
    return out


def devices():
    """The declared devices with the faults applied; missing ones are left out."""
    found = []
    for number, words in _declared():
        if len(words) != 2 or not words[1].isdigit():
            source = ACCELERATORS if os.path.exists(ACCELERATORS) else NODE_FACTS
            fail(f"{source} line {number}: expected 'MODEL COUNT', got {' '.join(words)!r}")
        found += [Device(len(found) + i, words[0].lower()) for i in range(int(words[1]))]
    by_index = {d.index: d for d in found}
    missing = set()
    for number, words in _lines(FAULTS):
        what = words[0].lower()
        arity = {"device": 3, "link": 3, "ecc": 3, "temperature": 3, "missing": 2}.get(what)
        if arity is None or len(words) != arity or not words[1].isdigit():
            fail(f"{FAULTS} line {number}: unknown fault {' '.join(words)!r} (README.md lists the forms)")
        device = by_index.get(int(words[1]))
        if device is None:
            fail(f"{FAULTS} line {number}: there is no device {words[1]} ({len(found)} declared)")
        if what == "missing":
            missing.add(device.index)
        elif what == "device" and words[2].lower() in HEALTH_FAULTS:
            device.health = words[2].lower()
        elif what == "link" and words[2].lower() in ("down", "up"):
            device.link_up = words[2].lower() == "up"
        elif what == "ecc" and words[2].isdigit():
            device.ecc = int(words[2])
        elif what == "temperature" and words[2].replace(".", "", 1).isdigit():
            device.temperature = float(words[2])
        else:
            fail(f"{FAULTS} line {number}: bad value {words[2]!r} for {what}")
    return [d for d in found if d.index not in missing]


def declared_count():
    return sum(int(w[1]) for _, w in _declared() if len(w) == 2 and w[1].isdigit())


def short_model(model, vendor_word):
    """`ascend-910b` → `910B`: the model id without its vendor word, as the vendors' tools print names."""
    return model[len(vendor_word) + 1:].upper() if model.startswith(vendor_word + "-") else model.upper()


def number(value):
    return f"{value:.1f}" if value != int(value) else f"{int(value)}"
