"""The image model: one set of facts about a Dockerfile, computed once per
parsed document and shared by every pass of a round.

Like LibCST's metadata providers, the model is derived from the lossless tree
and never changes it. ``ImageModel.build(doc, context, config)`` runs one
forward pass over the file and gives:

* ``graph``: the stage graph (:mod:`dockeropt.model.stages`): bases with ARG
  defaults resolved, FROM-stage ancestry, COPY/mount dependencies, the final
  image's closure, each chain's external image (:mod:`dockeropt.model.images`);
* ``state(ins)``: ENV/ARG (:mod:`dockeropt.model.values`), USER with uid/gid/home
  (:mod:`dockeropt.model.users`), WORKDIR and SHELL before each instruction;
* ``run(ins)``: what each RUN does (:mod:`dockeropt.model.runs`);
* ``copy(ins)``: COPY/ADD sources and destinations (:mod:`dockeropt.model.files`);
* ``ownership``: who owns which path after which instruction;
* ``runtime``: the final image's start command, launcher, port, protocol and
  routes (:mod:`dockeropt.model.runtime`), computed on first use;
* ``frontend``: the Dockerfile features the build can use
  (:mod:`dockeropt.model.frontend`); ``style``: how to write new lines
  (:mod:`dockeropt.model.style`).

Passes read the model through ``ctx.model(doc)``; they never rebuild it.
"""

from __future__ import annotations

import bisect
import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.model.deps import ContextView
from dockeropt.model.files import CopyFacts, OwnerEvent, Ownership, read_copy
from dockeropt.model.frontend import Frontend, frontend_for
from dockeropt.model.images import BaseImage
from dockeropt.model.mounts import mounts_of
from dockeropt.model.runs import RunFacts, Write, _Context, classify_run
from dockeropt.model.runtime import (
    Port,
    RuntimeFacts,
    command_port,
    dependency_names,
    exposed_ports,
    frameworks_of,
    health_routes_of,
    image_server,
    server_protocol,
    server_spec,
    source_facts,
    start_command,
)
from dockeropt.model.stages import StageGraph, StageNode, State, build_states
from dockeropt.model.style import Style, style_of
from dockeropt.model.users import User
from dockeropt.model.workspaces import workspace_dir
from dockeropt.shell import run_script
from dockeropt.syntax import Dockerfile, Instruction

__all__ = [
    "CopyFacts", "Frontend", "ImageModel", "Port", "RunFacts", "RuntimeFacts", "StageGraph", "StageNode", "State",
    "Style", "User", "Write",
]

_APT_WORD = re.compile(r"\bapt(-get)?\b")


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


_T = TypeVar("_T")


@dataclass
class ImageModel:
    doc: Dockerfile
    context: BuildContext | None
    config: Config
    graph: StageGraph
    states: dict[int, State]
    runs: dict[int, RunFacts]
    copies: dict[int, CopyFacts]
    ownership: Ownership
    frontend: Frontend
    style: Style
    _apt_lists: dict[int, list[int]] = field(default_factory=dict, repr=False)
    # answers of pure lookups on this model (dockeropt.model.project.context_copy), keyed by their arguments
    _lookups: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)
    _stage_runs: dict[int, list[tuple[Instruction, RunFacts]]] = field(default_factory=dict, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, doc: Dockerfile, context: BuildContext | None = None, config: Config | None = None) -> ImageModel:
        config = config or Config()
        graph, states = build_states(doc)
        stage_names: dict[str, int] = {}
        for n in graph.nodes:
            if n.name:
                stage_names[n.name.lower()] = n.index
        parents = {n.index: n.parent for n in graph.nodes}
        ownership = Ownership(parents)
        runs: dict[int, RunFacts] = {}
        copies: dict[int, CopyFacts] = {}
        has_file = (lambda name: bool(context.exists(name))) if context is not None else None
        go_binary = _go_binary(context)
        venvs_by_stage: dict[int, set[str]] = {}
        apt_lists: dict[int, list[int]] = {}
        is_dir = (lambda p: bool(context.is_dir(p))) if context is not None else None
        # the stages a COPY --from may name: earlier stages by name (the last stage of a name) and by index (an
        # index wins over a name spelled like it); grown stage by stage, read by read_copy only
        names_of: dict[int, list[str]] = {}
        for name, idx in stage_names.items():
            names_of.setdefault(idx, []).append(name)
        visible: dict[str, int] = {}
        numbers: set[str] = set()
        for node in graph.nodes:
            venvs = set(venvs_by_stage.get(node.parent, set())) if node.parent is not None else set()
            cx = _Context(has_file=has_file, go_binary=go_binary, venvs=venvs)
            for ins in node.stage.body:
                st = states[ins.index]
                if ins.keyword == "RUN":
                    facts = _run_facts(ins, doc.text, st, cx, context)
                    runs[ins.index] = facts
                    _record_run(ownership, node.index, ins, facts, st)
                    if _needs_apt_lists(facts):
                        apt_lists.setdefault(node.index, []).append(ins.index)
                elif ins.keyword in ("COPY", "ADD"):
                    cf = read_copy(ins, st.env, st.workdir, st.accounts, visible, is_dir,
                                   lambda p, _n=node.index, _i=ins.index: ownership.is_dir(_n, p, _i))
                    if cf is not None:
                        copies[ins.index] = cf
                        dest = cf.dest.rstrip("/") or "/"
                        ownership.add(node.index, OwnerEvent(ins.index, dest, cf.owner, cf.dest_is_dir, False, "copy",
                                                             _brings(cf, dest, context)))
                elif ins.keyword == "WORKDIR":
                    wd = _workdir_after(ins, st)
                    if wd:
                        # BuildKit creates a missing WORKDIR as the current USER
                        ownership.add(node.index, OwnerEvent(ins.index, wd, st.user, False, True, "workdir"))
            venvs_by_stage[node.index] = cx.venvs
            number = str(node.index)
            numbers.add(number)
            visible[number] = node.index
            for name in names_of.get(node.index, ()):
                if name not in numbers:
                    visible[name] = node.index
        frontend = frontend_for(doc.directive("syntax").value if doc.directive("syntax") else None, config.buildkit)
        return cls(doc, context, config, graph, states, runs, copies, ownership, frontend, style_of(doc), apt_lists)

    # ------------------------------------------------------------------ lookups

    def lookup(self, key: tuple[object, ...], compute: Callable[[], _T]) -> _T:
        """``compute()`` once per ``key`` on this model (a pure lookup several passes ask again and again)."""
        if key in self._lookups:
            return self._lookups[key]  # type: ignore[return-value]
        got = self._lookups[key] = compute()
        return got

    def state(self, ins: Instruction) -> State:
        return self.states[ins.index]

    def run(self, ins: Instruction) -> RunFacts | None:
        return self.runs.get(ins.index)

    def copy(self, ins: Instruction) -> CopyFacts | None:
        return self.copies.get(ins.index)

    def node(self, ins_or_stage: Instruction | int) -> StageNode:
        if isinstance(ins_or_stage, int):
            return self.graph[ins_or_stage]
        return self.graph[ins_or_stage.stage_index]

    def base(self, stage: int) -> BaseImage | None:
        return self.graph[stage].image

    @property
    def final(self) -> StageNode | None:
        return self.graph.final

    def chain(self, stage: int) -> list[StageNode]:
        """The stage and the stages it is built FROM, nearest first."""
        n = self.graph[stage]
        return [n, *(self.graph[i] for i in n.ancestors)]

    def stage_runs(self, stage: int) -> Iterator[tuple[Instruction, RunFacts]]:
        got = self._stage_runs.get(stage)
        if got is None:  # listed on first use: passes ask for every stage's RUNs again and again
            got = self._stage_runs[stage] = [
                (ins, f) for ins in self.graph[stage].stage.body if (f := self.runs.get(ins.index)) is not None
            ]
        return iter(got)

    def later_runs(self, ins: Instruction) -> Iterator[Instruction]:
        """RUNs executed on top of ``ins``'s result: later in its stage, then in stages built FROM it."""
        node = self.node(ins)
        for other in node.stage.body:
            if other.index > ins.index and other.keyword == "RUN":
                yield other
        for d in self.graph.descendants(node.index):
            for other in self.graph[d].stage.body:
                if other.keyword == "RUN":
                    yield other

    def later_apt_needs_lists(self, ins: Instruction) -> Instruction | None:
        """A later RUN (this stage or one built FROM it) that installs apt packages without its own
        ``apt-get update``, or that mentions apt and cannot be read; None when there is none. O(log n)."""
        node = self.node(ins)
        own = self._apt_lists.get(node.index, [])
        i = bisect.bisect_right(own, ins.index)
        if i < len(own):
            return self.doc.instructions[own[i]]
        for d in self.graph.descendants(node.index):
            lst = self._apt_lists.get(d)
            if lst:
                return self.doc.instructions[lst[0]]
        return None

    def owner(self, stage: int, path: str, before: int | None = None) -> User | None:
        return self.ownership.owner(stage, path, before)

    def context_source(self, stage: int, image_path: str, before: int | None = None, _depth: int = 0) -> str | None:
        """The build-context path a COPY from the context placed at ``image_path`` (file or folder), latest first.

        A ``COPY --from=<stage>`` that placed it is followed into that stage (``COPY --from=build /app /app``
        after ``COPY . /app`` in ``build`` gives the context folder).
        """
        p = posixpath.normpath(image_path)
        chain = [n.index for n in reversed(self.chain(stage))]
        for st in reversed(chain):
            for ins in reversed(self.graph[st].stage.body):
                if st == stage and before is not None and ins.index >= before:
                    continue
                cf = self.copies.get(ins.index)
                if cf is None:
                    continue
                if cf.from_stage is not None and _depth < 8:
                    for src in cf.sources:
                        s = posixpath.normpath(posixpath.join("/", src))
                        # a folder copied from a stage lands as its contents (COPY --from=build /app /app)
                        tgt = cf.dest.rstrip("/") or "/" if self.ownership.is_dir(cf.from_stage, s) else cf.target_of(src)
                        if not _under(p, tgt):
                            continue
                        if "*" in s:
                            return None
                        rel = posixpath.relpath(p, tgt)
                        inner = s if rel == "." else posixpath.normpath(posixpath.join(s, rel))
                        return self.context_source(cf.from_stage, inner, None, _depth + 1)
                    continue
                if not cf.from_context:
                    continue
                for src in cf.sources:
                    s = posixpath.normpath(src)
                    if any(c in s for c in "*?["):
                        got = self._context_glob_file(cf.dest, s, p)
                        if got is not None:
                            return got
                        continue
                    tgt = cf.target_of(src)
                    if _under(p, tgt):
                        rel = posixpath.relpath(p, tgt)
                        return s if rel == "." else posixpath.normpath(posixpath.join(s, rel))
        return None

    def _context_glob_file(self, dest: str, pattern: str, p: str) -> str | None:
        """The context file a glob source (``COPY package*.json ./``) placed at ``p``; None unless the context proves it.

        Only a wildcard in the last part is read: the matching files land in the destination folder under their own
        names, so ``p`` must sit right in that folder, its name must match, and the context must hold the file.
        """
        head, tail = posixpath.split(pattern)
        if any(c in head for c in "*?[") or self.context is None:
            return None
        if posixpath.dirname(p) != (posixpath.normpath(dest) if dest.endswith("/") else None):
            return None
        name = posixpath.basename(p)
        if not fnmatch.fnmatchcase(name, tail):
            return None
        cand = posixpath.normpath(posixpath.join(head, name)) if head not in ("", ".") else name
        return cand if self.context.is_file(cand) and not self.context.ignored(cand) else None

    # ------------------------------------------------------------------ the runtime

    @cached_property
    def runtime(self) -> RuntimeFacts | None:
        final = self.graph.final
        if final is None:
            return None
        return self._runtime(final)

    def _runtime(self, final: StageNode) -> RuntimeFacts:
        instructions: list[Instruction] = []
        for n in reversed(self.chain(final.index)):
            instructions.extend(n.stage.body)
        entrypoint = cmd = None
        for ins in instructions:
            if ins.keyword == "ENTRYPOINT":
                entrypoint, cmd = ins, None
            elif ins.keyword == "CMD":
                cmd = ins
        last = final.stage.instructions[-1]
        end_state = self._end_state(final.index)
        workdir = end_state.workdir
        app_dir = self.context_source(final.index, workdir) if workdir else None
        if app_dir is None and workdir:
            app_dir = self._app_dir_from_parts(final.index, workdir)
        context = self.context

        def scripts(folder: str) -> dict[str, str] | None:
            if context is None or app_dir is None:
                return None
            pkg = context.read_json_object(posixpath.join(app_dir, folder, "package.json"))
            if pkg is None:
                return None
            s = pkg.get("scripts")
            return {str(k): str(v) for k, v in s.items()} if isinstance(s, dict) else {}

        def has_file(rel: str) -> bool:
            return context is not None and app_dir is not None and context.is_file(posixpath.join(app_dir, rel))

        def workspace(value: str, workspace_file: str | None, match: tuple[str, ...]) -> str | None:
            if context is None or app_dir is None:
                return None
            return workspace_dir(ContextView(context, app_dir), value, workspace_file, match)

        start = start_command(entrypoint, cmd, scripts, has_file, workspace)
        exposed = exposed_ports([i for i in instructions], lambda i: self.states[i.index].env)
        frameworks: list[dict] = []
        routes: list[str] = []
        src_ports: list[tuple[str | None, int | None, str]] = []
        src_protocols: dict[str, str] = {}
        started: list[tuple[str, str]] = []
        writes: list[tuple[str, str]] = []
        deps: set[str] = set()
        if context is not None and app_dir is not None:
            deps = dependency_names(context, app_dir)
            frameworks = frameworks_of(deps)
            ecos = sorted({f["ecosystem"] for f in frameworks})
            routes, src_ports, src_protocols, started, writes = source_facts(context, app_dir, ecos)
        health = health_routes_of(routes, frameworks, context, app_dir or ".")
        # the port: the start command's server flags, then the source, then ENV PORT, then EXPOSE
        listen: Port | None = command_port(start.program_text, start.program)
        if listen is not None and listen.source == "server default":
            listen = None if (exposed or src_ports) else listen
        if listen is not None and listen.source == "argument":
            # a bare number the app gets (`python app.py 9000`): when the source shows where the port comes from, that
            # decides; else it is the port when EXPOSE names it too, and unknown otherwise (not EXPOSE's guess)
            if src_ports:
                listen = None
            elif any(p.number == listen.number for p in exposed):
                listen = Port(listen.number, None, "command", listen.where)
            else:
                listen = Port(None, None, "argument", listen.where)
        if listen is None and src_ports:
            with_var = [p for p in src_ports if p[0]]
            var, num, where = (with_var or src_ports)[0]
            if var and num is None:
                v = end_state.env.value(var)
                num = int(v) if v and v.isdigit() else None
            if num is None and var and len(exposed) == 1:
                num = exposed[0].number
            listen = Port(num, var, "source", where)
        if listen is None:
            port_env = end_state.env.get("PORT")
            if port_env is not None and port_env.value and port_env.value.isdigit():
                listen = Port(int(port_env.value), "PORT", "ENV", "ENV PORT")
        if listen is None and len(exposed) == 1:
            listen = exposed[0]
        protocol, reason = self._protocol(final, start, frameworks, src_protocols)
        if listen is None and protocol is not None and reason is not None and reason.endswith("runs its own server"):
            img = final.image
            spec = image_server(img.family, img.info.flavor) if img is not None and img.info is not None else None
            if spec is not None and img is not None:
                listen = Port(spec["port"], None, "image", f"the {img.text} image")
        volumes: list[str] = []
        for ins in instructions:
            if ins.keyword == "VOLUME":
                volumes.extend(ins.words)
        user = self.states[last.index].user if last.keyword != "USER" else end_state.user
        return RuntimeFacts(
            start, user, workdir, tuple(exposed), listen, protocol, reason, tuple(f["id"] for f in frameworks),
            tuple(routes), tuple(health), tuple(volumes), app_dir, tuple(started), tuple(writes), frozenset(deps),
        )

    def _app_dir_from_parts(self, stage: int, workdir: str) -> str | None:
        """The context folder holding the app when only parts of it are copied into the working folder
        (``COPY ./app /code/app`` and ``COPY requirements.txt /code/`` with ``WORKDIR /code`` give ``.``):
        the one folder every such copy agrees on; None when they disagree or none is found."""
        found: set[str] = set()
        for n in self.chain(stage):
            for ins in n.stage.body:
                cf = self.copies.get(ins.index)
                if cf is None or not (cf.from_context or cf.from_stage is not None):
                    continue
                for src in cf.sources:
                    s = posixpath.normpath(src)
                    if cf.from_stage is not None:
                        # COPY --from=build /app/server.js /app/: where the build stage got that file from
                        tgt = cf.target_of(src)
                        if "*" in s or not _under(tgt, workdir) or tgt == workdir:
                            continue
                        origin = self.context_source(cf.from_stage, posixpath.join("/", s))
                        if origin is None:
                            continue
                        cand = posixpath.normpath(posixpath.join(origin, posixpath.relpath(workdir, tgt)))
                        if cand.startswith(".."):
                            return None
                        found.add(cand)
                        continue
                    folder = self.context is not None and bool(self.context.is_dir(s))
                    tgt = (cf.dest.rstrip("/") or "/") if folder else cf.target_of(src)  # a folder lands as its contents
                    if "*" in s or not _under(tgt, workdir) or tgt == workdir:
                        continue
                    up = posixpath.relpath(workdir, tgt)  # "..", "../.."
                    cand = posixpath.normpath(posixpath.join(s, up))
                    if cand.startswith(".."):
                        return None
                    found.add(cand)
        return found.pop() if len(found) == 1 else None

    def _end_state(self, stage: int) -> State:
        """The state after the stage's last instruction."""
        last = self.graph[stage].stage.instructions[-1]
        st = self.states[last.index]
        if last.keyword in ("ENV", "ARG", "USER", "WORKDIR", "SHELL"):
            from dockeropt.model.stages import _apply

            return _apply(self.doc, last, st, self.graph.global_args, set(), [], [])
        return st

    def end_state(self, stage: int) -> State:
        return self._end_state(stage)

    def _protocol(self, final: StageNode, start, frameworks: list[dict], src: dict[str, str]) -> tuple[str | None, str | None]:  # type: ignore[no-untyped-def]
        proto = server_protocol(start.program)
        if proto == "https":
            tls = (server_spec(start.program) or {}).get("tls_flags", ())
            flag = next((w.split("=", 1)[0] for w in start.program if w.split("=", 1)[0] in tls), "a certificate")
            return proto, f"the start command runs {start.program[0]} with {flag}"
        if proto is not None:
            return proto, f"the start command runs {start.program[0]}"
        img = final.image
        if img is not None and img.info is not None:
            spec = image_server(img.family, img.info.flavor)
            if spec is not None and (not start.known or start.program is None or _image_default_cmd(start.program)):
                return spec["protocol"], f"the {img.text} image runs its own server"
        if "https" in src and "http" not in src:
            # a TLS server (https.createServer, ListenAndServeTLS, ssl_context=): the framework only handles its requests
            return "https", f"its source ({src['https']}) starts an HTTPS server"
        protos = {f["protocol"] for f in frameworks} | set(src)
        if len(protos) != 1:
            return None, None  # none known, or a gRPC server beside an HTTP one: which one listens is not known
        proto = protos.pop()
        if frameworks:
            return proto, f"the app depends on {', '.join(sorted({x['id'] for x in frameworks}))}"
        return proto, f"{src[proto]} serves {proto.upper() if proto == 'http' else proto}"


def _image_default_cmd(program: tuple[str, ...]) -> bool:
    return bool(program) and posixpath.basename(program[0]) in ("php-fpm", "nginx", "apache2-foreground", "httpd-foreground")


# content key -> the classifications made under it, each with the build-context questions it asked and their
# answers, and the virtualenvs it creates
_RUN_CACHE: dict[tuple[object, ...], list[tuple[tuple[tuple[str, object, object], ...], RunFacts, tuple[str, ...]]]] = {}


def _run_facts(ins: Instruction, doc_text: str, st: State, cx: _Context, context: BuildContext | None) -> RunFacts:
    """``classify_run``, reused across rebuilds for a RUN whose script and state did not change.

    The pipeline rebuilds the model every round; most RUNs are unchanged or only gained flags (mounts), so their
    classification is taken from the last build and only the instruction, its mounts and its editable script are
    refreshed. The key holds everything the classifier reads: the state (``State.key``), the script (the text
    after the flags, heredoc bodies) and the virtualenvs seen so far. The classifier sees the build context only
    through ``cx.has_file`` and ``cx.go_binary``: the questions it asked are recorded with their answers, and a
    classification is reused when the current context gives the same answers (another BuildContext object of the
    same folder, as the LSP makes for every version, or the same one after an overlay change that did not matter).
    """
    key = (st.key, ins.args, ins.json, tuple(h.content for h in ins.heredocs) if ins.heredocs else (),
           frozenset(cx.venvs) if cx.venvs else _NO_VENVS, context is not None)
    hit: RunFacts | None = None
    made: tuple[str, ...] = ()
    for asked, facts, venvs in _RUN_CACHE.get(key, ()):
        if not asked or all(_answer(cx, kind, arg) == answer for kind, arg, answer in asked):
            hit, made = facts, venvs
            break
    if hit is None:
        asked_now: list[tuple[str, object, object]] = []
        has_file, go_binary = cx.has_file, cx.go_binary

        def recorded_has_file(name: str) -> bool | None:
            answer = has_file(name)  # type: ignore[misc]
            asked_now.append(("has_file", name, answer))
            return answer

        def recorded_go_binary(project: str | None) -> str | None:
            answer = go_binary(project)
            asked_now.append(("go_binary", project, answer))
            return answer

        rec = _Context(recorded_has_file if has_file is not None else None, recorded_go_binary, cx.venvs)
        facts = classify_run(ins, doc_text, st.env, st.user, st.workdir, rec)
        if len(_RUN_CACHE) > 65536:
            _RUN_CACHE.clear()
        entries = _RUN_CACHE.setdefault(key, [])
        venvs = tuple(w.path for a in facts.actions if a.verb == "venv" for w in a.writes if w.path)
        entries.append((tuple(asked_now), facts, venvs))
        del entries[:-4]  # a few build-context states per content, the latest last
        return facts
    if made:
        cx.venvs.update(made)
    rs = run_script(ins)
    editable = rs if rs is not None and rs.script.ok and not ins.heredocs else None
    # the same content, but this round's instruction indexes (ENV lines the actions' env points at)
    env, user, index = st.env, st.user, ins.index
    actions = tuple([a.rebased(env, user, index) for a in hit.actions])
    return RunFacts(ins, hit.script, editable, mounts_of(ins) if ins.flags else (), actions, hit.unknown, ins.json)


_NO_VENVS: frozenset[str] = frozenset()


def _answer(cx: _Context, kind: str, arg: object) -> object:
    """What the current build context answers to a question the classifier asked (see ``_run_facts``)."""
    if kind == "has_file":
        return cx.has_file(arg) if cx.has_file is not None else None  # type: ignore[arg-type]
    return cx.go_binary(arg)  # type: ignore[arg-type]


def _workdir_after(ins: Instruction, st: State) -> str | None:
    from dockeropt.model.values import expand

    arg = ins.args.strip()
    path = expand(arg, st.env) if arg else None
    if path is None:
        return None
    if path.startswith("/"):
        return posixpath.normpath(path)
    return posixpath.normpath(posixpath.join(st.workdir, path)) if st.workdir else None


def _needs_apt_lists(facts: RunFacts) -> bool:
    if facts.script is None or not facts.script.ok:
        return bool(_APT_WORD.search(facts.instruction.text))
    updated = False
    for a in facts.actions:
        if a.tool != "apt":
            continue
        if a.verb == "update-index":
            updated = True
        elif a.verb in ("install", "upgrade") and not updated:
            pkgs = a.packages
            local_only = bool(pkgs) and all(p.startswith(("/", "./")) and p.endswith(".deb") for p in pkgs)
            if not local_only:
                return True
    return False


def _record_run(ownership: Ownership, stage: int, ins: Instruction, facts: RunFacts, st: State) -> None:
    """Paths a RUN creates or re-owns: mkdir (as the user who runs it), chown, and package-manager output."""
    for a in facts.actions:
        if a.verb == "chown":
            words = [w.value for w in a.command.effective()[1:]]
            recursive = any(w in ("-R", "--recursive") for w in words if w)
            spec = next((w for w in words if w is not None and not w.startswith("-")), None)
            if spec is None:
                continue
            from dockeropt.model.users import resolve_user

            owner = resolve_user(spec, st.accounts, None)
            for w in a.writes:
                if w.path:
                    ownership.add(stage, OwnerEvent(ins.index, w.path, owner, recursive, False, "chown"))
        elif a.tool == "mkdir":
            for w in a.writes:
                if w.path:
                    ownership.add(stage, OwnerEvent(ins.index, w.path, a.user, False, True, "mkdir"))
        elif a.manager is not None:
            for w in a.writes:
                if w.path and w.kind in ("project", "home", "venv", "path", "prefix"):
                    ownership.add(stage, OwnerEvent(ins.index, w.path, a.user, True, True, "install"))
        elif a.verb == "venv":
            for w in a.writes:
                if w.path:
                    ownership.add(stage, OwnerEvent(ins.index, w.path, a.user, True, True, "install"))


def _brings(cf: CopyFacts, dest: str, context: BuildContext | None):  # type: ignore[no-untyped-def]
    """For a folder copy from the build context: does it bring a given path below ``dest``? (None: assume it does.)"""
    if context is None or not cf.from_context or not cf.dest_is_dir:
        return None
    sources = [posixpath.normpath(s) for s in cf.sources]
    if any("*" in s or "?" in s or "[" in s for s in sources):
        return None

    def brings(path: str) -> bool:
        rel = posixpath.relpath(path, dest)
        for s in sources:
            base = s if (s == "." or s.endswith("/") or context.is_dir(s)) else None
            if base is None:
                if rel == posixpath.basename(s) or rel.startswith(posixpath.basename(s) + "/"):
                    return True
                continue
            cand = posixpath.normpath(posixpath.join(base, rel))
            if context.exists(cand) and not context.ignored(cand):
                return True
        return False

    return brings


def _go_binary(context: BuildContext | None):  # type: ignore[no-untyped-def]
    def name(project: str | None) -> str | None:
        if context is None:
            return None
        text = context.read_text("go.mod") or ""
        m = re.search(r"^module\s+(\S+)", text, re.M)
        return m.group(1).rstrip("/").rsplit("/", 1)[-1] if m else None

    return name
