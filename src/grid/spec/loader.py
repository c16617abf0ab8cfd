"""YAML → plain data plus a map from config path to source position.

Only the loader knows about YAML; everything after it sees plain dicts/lists and
`SourceMap`, so any diagnostic path can be turned into file:line:col.
"""

from __future__ import annotations

import os
import select
import stat
import time
from dataclasses import dataclass, field

import yaml

from grid.diagnostics import Diagnostic, Path, SourceRange, error

MAX_BYTES = 4 * 1024 * 1024
# Bounds the work an alias bomb ("billion laughs") can cause: nodes constructed after alias expansion.
MAX_NODES = 200_000
MAX_DEPTH = 64
# A spec read from a pipe or device (`/dev/stdin`, `<(…)`, a FIFO) may go this long without sending a
# byte: a FIFO that no program writes to must end in a diagnostic, never hang grid.
STREAM_IDLE_SECONDS = 10.0


@dataclass(frozen=True)
class SourceMap:
    """Positions of values and keys by config path (1-based line/col)."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    lines: tuple[str, ...] = ()

    def locate(self, path: Path, *, key: bool = False) -> SourceRange:
        """Nearest position for `path`, walking up to a parent that has one."""
        probe = path
        while True:
            table = self.keys if key and probe in self.keys else self.values
            if probe in table:
                line, col = table[probe]
                return SourceRange(self.file, line, col)
            if not probe:
                return SourceRange(self.file, 1, 1)
            probe = probe[:-1]

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


@dataclass(frozen=True)
class Loaded:
    data: object | None
    source: SourceMap
    diagnostics: tuple[Diagnostic, ...] = ()


class _TooBig(Exception):
    pass


class _TooDeep(Exception):
    pass


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.count = 0
        self.problems: list[Diagnostic] = []
        # An alias repeats the same scalar node: resolve it once (an alias bomb repeats it 100,000s of times).
        self.scalars: dict[int, object] = {}

    def build(self, node: yaml.Node, path: Path, depth: int) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES} values after expanding anchors and aliases")
        if depth > MAX_DEPTH:
            raise _TooBig(f"nesting deeper than {MAX_DEPTH} levels")
        self.source.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            out: dict[str, object] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self._problem(key_node, path, "a mapping key must be a plain string")
                    continue
                key = key_node.value
                child = (*path, key)
                if key in out:
                    self._problem(
                        key_node, child, f"duplicate key '{key}'",
                        hint="each key may appear once in a mapping; remove or merge the repeated one",
                    )
                    continue
                self.source.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, child, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        known = self.scalars.get(id(node), _UNSET)
        if known is not _UNSET:
            return known
        try:
            value = _scalar(node)
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            self._problem(node, path, f"cannot read this value: {exc}", hint="write a plain, shorter value")
            return node.value
        self.scalars[id(node)] = value
        return value

    def _problem(self, node: yaml.Node, path: Path, summary: str, hint: str = "") -> None:
        where = SourceRange(self.source.file, node.start_mark.line + 1, node.start_mark.column + 1)
        self.problems.append(error(summary, path, hint=hint, code="yaml").at(where))


def _refuse_bomb(root: yaml.Node) -> None:
    """Raise _TooBig, as _Builder.build would after MAX_NODES values, for a document whose expansion is larger —
    counted over the distinct nodes (each alias's subtree once), not by expanding it: an alias bomb is refused at
    once instead of after building 200,000 values. Counts what build builds (not a non-string key's value, nor a
    repeated key's). A cycle or nesting deeper than MAX_DEPTH is left to build, which says so."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values in its expansion, its height)
    walking: set[int] = set()

    def walk(node: yaml.Node, depth: int) -> tuple[int, int] | None:
        known = sizes.get(id(node))
        if known is not None:
            return known if depth + known[1] <= MAX_DEPTH else None
        if id(node) in walking or depth > MAX_DEPTH:
            return None
        if isinstance(node, yaml.ScalarNode):
            return 1, 0
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            children = []
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value not in seen:
                    seen.add(key_node.value)
                    children.append(value_node)
        else:
            children = node.value
        walking.add(id(node))
        size, height = 1, 0
        for child in children:
            found = walk(child, depth + 1)
            if found is None:
                return None
            size, height = size + found[0], max(height, found[1] + 1)
        walking.discard(id(node))
        sizes[id(node)] = (size, height)
        return size, height

    found = walk(root, 0)
    if found is not None and found[0] > MAX_NODES:
        raise _TooBig(f"more than {MAX_NODES} values after expanding anchors and aliases")


def _scalar(node: yaml.ScalarNode) -> object:
    # Resolve plain scalars with YAML 1.1 safe rules (ints, floats, bools, null), keep quoted ones as text.
    if node.style in ("'", '"', "|", ">"):
        return node.value
    tag = node.tag
    constructor = yaml.SafeLoader.yaml_constructors.get(tag)
    if constructor is None or tag == "tag:yaml.org,2002:timestamp":
        return node.value
    return constructor(_SCALARS, node)


_UNSET = object()

# Scalar constructors keep no state: one instance serves every scalar (building a loader per scalar
# made an alias bomb of 200k values cost seconds).
_SCALARS = yaml.SafeLoader("")


def _compose(text: str) -> list[yaml.Node]:
    """The document's nodes, with their positions. libyaml composes a valid spec several times faster than the
    pure-Python parser and gives the same nodes and marks; its errors are terser ("did not find expected ','"),
    so a text it refuses is composed again by the pure-Python parser for the diagnostic people read."""
    if _FAST_LOADER is not None:
        try:
            return list(yaml.compose_all(text, Loader=_FAST_LOADER))
        except yaml.MarkedYAMLError as exc:
            if exc.problem == "exceeded maximum nesting depth":  # libyaml's limit (1000) is far above MAX_DEPTH
                raise _TooDeep from exc
        except yaml.YAMLError:
            pass
    return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def load_text(text: str | bytes, file: str = "<spec>") -> Loaded:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            return _fail(file, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB", "a cluster spec is small")
        if b"\x00" in text:
            return _fail(file, "the file is binary, not YAML text", "pass the cluster spec (a .yaml file)")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _fail(file, f"the file is not UTF-8 text (byte {exc.start})", "save the spec as UTF-8")
    lines = tuple(text.splitlines())
    source = SourceMap(file=file, lines=lines)
    if not text.strip():
        return Loaded(None, source, (error("the spec is empty", hint="start from examples/local-lab/cluster.yaml",
                                           code="yaml").at(SourceRange(file, 1, 1)),))
    try:
        nodes = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceRange(file, mark.line + 1, mark.column + 1) if mark else SourceRange(file, 1, 1)
        summary = f"YAML syntax: {exc.problem or exc.context}"
        opened = exc.context_mark
        detail = f"{exc.context} at line {opened.line + 1}, column {opened.column + 1}" if (
            exc.problem and exc.context and opened) else ""
        found = error(summary, detail=detail, hint="fix the YAML syntax at this position", code="yaml")
        return Loaded(None, source, (found.at(where),))
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        where = SourceRange(file, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        return Loaded(None, source, (error(f"YAML syntax: {exc.reason} (character #x{exc.character:04x})",
                                           hint="remove the control character", code="yaml").at(where),))
    except yaml.YAMLError as exc:
        return _fail(file, f"YAML syntax: {exc}", "fix the YAML syntax")
    except (RecursionError, _TooDeep):
        return _fail(file, f"the spec is too large: nesting deeper than {MAX_DEPTH} levels",
                     "remove deep nesting or anchor/alias expansion")
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        return Loaded(None, source, (error("the spec is empty", code="yaml").at(SourceRange(file, 1, 1)),))
    if len(nodes) > 1:
        where = SourceRange(file, nodes[1].start_mark.line + 1, 1)
        return Loaded(None, source, (error("the file holds more than one YAML document", code="yaml",
                                           hint="keep one Cluster per file").at(where),))
    builder = _Builder(source)
    try:
        if "*" in text:  # an alias: the expanded document may be far larger than the text
            _refuse_bomb(nodes[0])
        data = builder.build(nodes[0], (), 0)
    except _TooBig as exc:
        return _fail(file, f"the spec is too large: {exc}", "remove deep nesting or anchor/alias expansion")
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        return _fail(file, f"YAML value: {exc}", "fix the value")
    return Loaded(data, source, tuple(builder.problems))


def load_file(path: str) -> Loaded:
    try:
        raw = _read_capped(path, MAX_BYTES + 1)
    except _Stalled:
        return _fail(path, f"nothing arrived from {path} for {STREAM_IDLE_SECONDS:.0f} s: it is a pipe or FIFO "
                     "that no program writes to", "save the spec to a file and pass its path")
    except OSError as exc:
        return _fail(path, f"cannot read the spec: {exc.strerror}", "check the path")
    return load_text(raw, path)


class _Stalled(Exception):
    pass


def _read_capped(path: str, limit: int) -> bytes:
    """At most `limit` bytes of `path`; a pipe or device is read without ever blocking for long."""
    # O_NONBLOCK: opening a FIFO blocks until a writer appears, which may be never.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, os.strerror(21), path)
        if stat.S_ISREG(mode):
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read(limit)
        return _read_stream(fd, limit)
    finally:
        os.close(fd)


def _read_stream(fd: int, limit: int) -> bytes:
    """Until end of input or `limit` bytes; raises _Stalled after STREAM_IDLE_SECONDS without data."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + STREAM_IDLE_SECONDS
    while size < limit:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Stalled
        if not poller.poll(remaining * 1000):
            continue
        try:
            chunk = os.read(fd, min(1 << 16, limit - size))
        except BlockingIOError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        deadline = time.monotonic() + STREAM_IDLE_SECONDS
    return b"".join(chunks)


def _fail(file: str, summary: str, hint: str) -> Loaded:
    return Loaded(None, SourceMap(file=file), (error(summary, hint=hint, code="yaml").at(SourceRange(file, 1, 1)),))
