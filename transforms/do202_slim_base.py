"""DO202 slim-base."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dockeropt.catalog import catalog
from dockeropt.catalog.images import distroless_for, family_label, jre_for, lookup, slim_variant, tools_missing_in_slim
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel, StageNode
from dockeropt.model import ecosystems as eco
from dockeropt.model.native import Dependencies, node_dependencies, python_dependencies, ruby_dependencies
from dockeropt.model.runs import Action
from dockeropt.model.runtime import launch_words
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import Script, parse_script
from dockeropt.syntax import Dockerfile, Instruction

from ._runtime_common import base_text_for, start_programs

_SCRIPT = re.compile(r"\.(sh|bash)$")


@dataclass
class _Findings:
    needs: dict[str, str] = field(default_factory=dict)  # tool -> where it is used
    provided: set[str] = field(default_factory=set)  # tools the stage installs itself
    blockers: list[str] = field(default_factory=list)
    libraries: dict[str, str] = field(default_factory=dict)  # runtime library -> why
    reviews: list[str] = field(default_factory=list)
    app_starts: dict[str, str] = field(default_factory=dict)  # tool -> the source file of the app that starts it


@register
class SlimBase(Pass):
    """Swap a full base image for a smaller one that runs the same thing.

    What it does:
        For the final image's stage (and the stages it is built FROM) on a
        full official image (`node:18`, `python:3.11`, `ruby:3.3`,
        `rust:1.75`, `openjdk:11`, `debian:bookworm`) it switches to the slim
        variant of the same version and distro (`node:18-slim`,
        `python:3.11-slim`, `debian:bookworm-slim`); `FROM node:${V}` with an
        ARG becomes `node:${V}-slim` where that is the slim tag for every
        version. Before swapping it reads every RUN, CMD, ENTRYPOINT and
        HEALTHCHECK of the stage (and scripts they run from the build
        context), and the app's source for the programs it starts by name
        (`subprocess.run(["git", ...])`), for the tools the slim image lacks
        (git, gcc, make, curl, ...), and the manifests and lockfiles of every install for
        dependencies that compile C code: requirements files, poetry.lock,
        Pipfile.lock, uv.lock, package.json with its lockfile, Gemfile.lock
        (catalog of native packages; a lockfile release without a wheel).
        Simple tools (curl, wget, git, unzip, procps) and the runtime
        libraries some packages load (psycopg -> libpq5) are installed
        explicitly on apt bases; anything that compiles keeps the full image,
        with a note. A JDK image that only runs a jar becomes the JRE of the
        same Java version (distroless java for a plain `java -jar` with no
        RUN); a CMD, ENTRYPOINT or HEALTHCHECK that runs a JDK-only tool
        (jcmd, jstack, ...) keeps the JDK, with a note. Build stages whose output reaches the final image only through
        COPY --from are never touched: slimming them saves nothing there.
        Alpine, distroless, slim and unknown bases are left alone; Debian is
        never swapped for Alpine.

    Why:
        The full images carry a complete build toolchain and many -dev
        libraries: `node:18` is about 1 GB, `node:18-slim` about 250 MB;
        `python:3.11` about 1 GB, `python:3.11-slim` about 150 MB; a JDK is
        200 MB more than its JRE. An app that only runs needs none of it, and
        every tool in the image is also attack surface.

    Example:
        # before
        FROM node:18
        RUN apt-get update && curl -fsSL https://example.com/x.tgz | tar xz
        # after
        FROM node:18-slim
        RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates && rm -rf /var/lib/apt/lists/*
        RUN apt-get update && curl -fsSL https://example.com/x.tgz | tar xz

    Fix safety:
        Review. The same language version and Debian release stay, and every
        command of the stage was checked, but the application itself might
        start a tool at runtime (for example `child_process.exec("git ...")`)
        or a dependency might have no wheel for the platform; build the image
        and run its tests.
    """

    id = "DO202"
    name = "slim-base"
    # DO201 gives the final stage its own runtime base: while it has a fix for a stage, this pass waits
    after = ("DO201",)
    messages = {
        "slim": Message(
            "Use the slim base `{slim}`",
            "Switches `{base}` to `{slim}` (same {what}), which leaves out the compilers, version-control tools, curl/wget "
            "and -dev libraries of the full image; {uses}. Check that the app itself starts no{other} such tools at runtime{review}.",
        ),
        "slim_debian": Message(
            "Use the slim base `{slim}`",
            "Switches `{base}` to `{slim}`: the same Debian release without manual pages, documentation and most locale "
            "data, about 40 MB smaller. Check that nothing in the image reads /usr/share/doc or translated messages.",
        ),
        "jre": Message(
            "Run the jar on `{jre}`",
            "The stage only runs a jar, so the JDK image `{base}` becomes `{jre}`: the same Java {major}{how} without the "
            "compiler and the JDK tools. Check that the app does not start javac, jcmd or jshell at run time.",
        ),
        "jdk_kept": Message(
            "`{base}` kept: the {keyword} on line {line} runs `{tool}`, a JDK tool",
            "`{jre}` would be smaller, but it has no `{tool}`: the JRE leaves out the JDK tools ({tools}), so the {keyword} on "
            "line {line} would fail there. {change}.",
        ),
        "kept": Message(
            "`{base}` kept: the slim variant lacks what the stage uses",
            "`{slim}` would be much smaller, but {reason}. Build in a separate stage on the full image and run on `{slim}`, "
            "or install the missing pieces explicitly.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        final = m.graph.final
        if final is None:
            return
        chain = [final.index, *final.ancestors]
        for idx in chain:
            node = m.graph[idx]
            ch = self._stage(m, node, idx == final.index, set(chain), ctx)
            if ch is not None:
                yield ch

    # ------------------------------------------------------------------ one stage

    def _stage(self, m: ImageModel, node: StageNode, final: bool, chain: set[int], ctx: PassContext) -> Change | None:
        if node.parent is not None or node.base is None or node.image is None:
            return None
        if any(c not in chain for c in node.children):
            return None  # another stage is built FROM it: it would change underneath that one
        info = node.image.info
        if info is None or not info.tag_understood:
            return None
        if info.family in eco.spec("java")["image_families"] and info.flavor == "jdk":
            return self._jre(m, node, final, ctx)
        slim = slim_variant(node.base)
        if slim is None or slim == node.base:
            return None
        if not info.is_full and info.family != "debian":
            return None
        text = _base_text(node, slim)
        if text is None:
            return None
        f = _Findings()
        missing = tools_missing_in_slim(info.family)
        if missing:
            self._read(m, node, ctx, f, missing)
            for prog, where in (m.runtime.started if m.runtime is not None else ()):
                if prog in missing and prog not in f.provided and prog not in f.needs:
                    f.needs[prog] = f"the app's source ({where})"
                    f.app_starts[prog] = where
        needs = {t: w for t, w in f.needs.items() if t not in f.provided}
        pm = info.package_manager
        unfixable = [t for t in needs if eco.tool_packages(t, pm) is None or pm != "apt"]
        if unfixable:
            t = unfixable[0]
            return self._kept(node, slim, f"{needs[t]} uses `{t}`, which {slim} does not have", final)
        if f.blockers:
            return self._kept(node, slim, f.blockers[0], final)
        install: list[str] = []
        for t in needs:
            for p in eco.tool_packages(t, pm) or ():
                if p not in install:
                    install.append(p)
        for lib in f.libraries:
            if lib not in install:
                install.append(lib)
        return self._fix(m, node, info, slim, text, install, needs, f, ctx)

    def _read(self, m: ImageModel, node: StageNode, ctx: PassContext, f: _Findings, missing: frozenset[str]) -> None:
        for ins in node.stage.body:
            kw = ins.keyword
            where = f"the {kw} on line {ins.start_line}"
            if kw == "RUN":
                facts = m.run(ins)
                if facts is None or facts.script is None or not facts.script.ok:
                    f.blockers.append(f"{where} could not be read by the shell model")
                    continue
                for a in facts.actions:
                    self._action(m, node, ins, a, where, f, missing, ctx)
            elif kw in ("CMD", "ENTRYPOINT", "HEALTHCHECK"):
                self._script(m, node, _launch_script(ins), ins, where, f, missing, 0)
            elif kw == "ONBUILD":
                f.blockers.append("the stage has ONBUILD triggers")
            elif kw == "SHELL":
                f.blockers.append("the stage changes its SHELL")

    def _action(self, m: ImageModel, node: StageNode, ins: Instruction, a: Action, where: str, f: _Findings,
                missing: frozenset[str], ctx: PassContext) -> None:
        name = a.command.name
        if name is None:
            if a.command.argv:
                f.blockers.append(f"{where} runs a command named by a variable")
            return
        if a.tool == "apt" and a.verb == "install":
            for p in a.packages:
                f.provided.update(eco.package_tools(p))
        if name in missing and name not in f.provided:
            f.needs.setdefault(name, where)
        if a.manager is not None and a.installs and a.manager.source_build_flags and a.has_flag(*a.manager.source_build_flags):
            f.blockers.append(f"{where} builds packages from source (--no-binary), which needs a compiler")
            return
        if a.compiles is True:
            f.blockers.append(f"{where} runs `{name}`, which needs compilers only the full image has")
            return
        if a.ecosystem in ("rust", "go", "dotnet") or (a.ecosystem == "system" and a.verb == "unknown"):
            if a.ecosystem != "system":
                f.blockers.append(f"{where} runs `{name}`, which may need compilers or libraries only the full image has")
                return
            self._script_file(m, node, ins, a, where, f, missing)
            return
        if a.installs and a.verb != "global" or a.tool in ("yarn-classic", "yarn-berry") and a.verb == "install":
            deps = _dependencies(m, node, ins, a, ctx)
            if deps is None:
                return
            where_deps = where
            for d in deps.compiles:
                why = f" ({d.why})" if d.why else ""
                f.blockers.append(f"{where_deps} installs {d.name}{why}, which builds C code (a compiler and headers the full image has)")
            for u in deps.unknown:
                f.blockers.append(f"{where_deps} cannot be checked: {u}")
            if deps.git:
                f.needs.setdefault("git", f"{where_deps} (a dependency comes from git)")
            for d in deps.native:
                if d.outside:
                    f.blockers.append(f"{where_deps} installs {d.name} ({d.why})")
                    continue
                if not d.compiles:
                    for lib in d.runtime:
                        f.libraries.setdefault(lib, d.name)
            if a.ecosystem == "node" and not any("lock" in r for r in deps.read):
                f.reviews.append("no lockfile with install-script data was found, so only direct dependencies were checked for native modules")
            elif a.ecosystem == "python":
                f.reviews.append("every Python dependency installs from a wheel (slim has no compiler)")

    def _script_file(self, m: ImageModel, node: StageNode, ins: Instruction, a: Action, where: str, f: _Findings,
                     missing: frozenset[str]) -> None:
        """A script the RUN starts (``./build.sh``): read from the build context and checked the same way."""
        eff = [w.value for w in a.command.effective()]
        path = eff[0] if eff and eff[0] is not None else None
        if path is not None and posixpath.basename(path) in ("sh", "bash", "dash"):
            rest = [x for x in eff[1:] if x is None or not x.startswith("-")]
            path = rest[0] if rest else None
        text = self._context_text(m, node, ins, path, a.cwd)
        if text is None:
            f.blockers.append(f"{where} runs `{path or a.command.name}`, which dockeropt cannot read")
            return
        if text.startswith("#!") and not re.search(r"\b(sh|bash|dash|ash)\b", text.split("\n", 1)[0]):
            return  # another interpreter: a program, not a shell script
        self._script(m, node, parse_script(text), ins, f"{path} (run by {where})", f, missing, 1)

    @staticmethod
    def _context_text(m: ImageModel, node: StageNode, ins: Instruction, path: str | None, cwd: str | None) -> str | None:
        if path is None or m.context is None:
            return None
        p = path if path.startswith("/") else (posixpath.join(cwd, path) if cwd else None)
        if p is None:
            return None
        rel = m.context_source(node.index, posixpath.normpath(p), ins.index)
        return m.context.read_text(rel) if rel is not None else None

    def _script(self, m: ImageModel, node: StageNode, script: Script | None, ins: Instruction, where: str, f: _Findings,
                missing: frozenset[str], depth: int) -> None:
        if script is None or not script.ok:
            f.blockers.append(f"{where} could not be read by the shell model")
            return
        wd = m.state(ins).workdir
        for cmd in script.commands:
            name = cmd.name
            if name is None:
                if cmd.argv:
                    f.blockers.append(f"{where} runs a command named by a variable")
                continue
            if name in missing and name not in f.provided:
                f.needs.setdefault(name, where)
            eff = [w.value for w in cmd.effective()]
            first = eff[0] if eff else None
            if name in ("sh", "bash", "dash") and "-c" in eff[1:]:
                i = eff.index("-c")
                inner = eff[i + 1] if i + 1 < len(eff) else None
                if inner is None:
                    f.blockers.append(f"{where} runs a shell script dockeropt cannot read")
                elif depth < 2:
                    self._script(m, node, parse_script(inner), ins, where, f, missing, depth + 1)
                continue
            scripted = _SCRIPT.search(name) or name in ("sh", "bash", "dash") or (first or "").startswith(("./", "/"))
            if not scripted:
                continue
            path = first
            if name in ("sh", "bash", "dash"):
                rest = [x for x in eff[1:] if x is None or not x.startswith("-")]
                if not rest:
                    continue
                path = rest[0]
            text = self._context_text(m, node, ins, path, wd)
            if text is None:
                if _SCRIPT.search(path or "") or name in ("sh", "bash", "dash"):
                    f.blockers.append(f"{where} runs `{path}`, a script dockeropt cannot read")
                continue
            if text.startswith("#!") and not re.search(r"\b(sh|bash|dash|ash)\b", text.split("\n", 1)[0]):
                continue
            if not _SCRIPT.search(path or "") and not text.startswith("#!"):
                continue
            if depth < 2:
                self._script(m, node, parse_script(text), ins, f"{path} (run by {where})", f, missing, depth + 1)

    # ------------------------------------------------------------------ JDK -> JRE

    def _jre(self, m: ImageModel, node: StageNode, final: bool, ctx: PassContext) -> Change | None:
        """A final JDK stage that only runs ``java``: the JRE of the same version (distroless for a plain ``java -jar``)."""
        if not final or m.runtime is None:
            return None
        info = node.image.info if node.image else None
        assert info is not None and node.base is not None
        argv = m.runtime.start.argv
        if not argv or posixpath.basename(argv[0]) != "java":
            return None
        spec = eco.spec("java")
        jdk_only = set(spec["jdk_only_programs"]) | set(spec.get("build_tools", ()))
        runs = [ins for ins in node.stage.body if ins.keyword == "RUN"]
        for ins in runs:
            facts = m.run(ins)
            if facts is None or not facts.understood:
                return None
            for a in facts.actions:
                if a.ecosystem == "java" or a.tool in jdk_only or (a.command.name or "") in jdk_only:
                    return None  # it builds: DO201's job
        jre = jre_for(node.base)
        if jre is None or jre == node.base:
            return None
        for ins in node.stage.body:
            if ins.keyword not in ("CMD", "ENTRYPOINT", "HEALTHCHECK"):
                continue
            tool = next((t for t in (posixpath.basename(c) for c in start_programs(ins)) if t in spec["jdk_only_programs"]), None)
            if tool is not None:
                change = ("Check the health through an HTTP route of the app instead, or keep the JDK" if ins.keyword == "HEALTHCHECK"
                          else f"Start the app without `{tool}`, or keep the JDK")
                return self.say("jdk_kept", node.stage.from_instruction, base=node.base, jre=jre, keyword=ins.keyword, line=ins.start_line,
                                tool=tool, tools=", ".join(spec["jdk_only_programs"][:4]), change=change)
        jinfo = lookup(jre)
        if jinfo is None or (runs and (jinfo.os != info.os or jinfo.package_manager != info.package_manager)):
            return None  # the stage's RUNs would run on another OS
        target = jre
        how = ""
        start = m.runtime.start
        cmd_argv = list(argv)
        new_cmd: list[str] | None = None
        user = m.end_state(node.index).user
        dl = distroless_for("java", info.major, False)
        if (dl is not None and not runs and start.entrypoint is None and start.cmd is not None and cmd_argv[:2] == ["java", "-jar"]
                and len(cmd_argv) >= 3 and "$" not in " ".join(cmd_argv) and "*" not in cmd_argv[2]
                and not any(i.keyword == "HEALTHCHECK" for i in node.stage.body) and user.is_root is not False and ctx.context is not None):
            target, new_cmd = dl, cmd_argv[2:]
            how = " on distroless java, which runs `java -jar` with the CMD as its arguments, without a shell,"
        text = _base_text(node, target)
        if text is None:
            return None
        frm = node.stage.from_instruction
        rng = _base_word_range(frm, node.base_text)
        if rng is None:
            return None
        edits = [Edit.replace(rng[0], rng[1], ctx.config.mirror(text))]
        if new_cmd is not None:
            cmd = start.cmd
            assert cmd is not None
            import json

            edits.append(Edit.replace(cmd.range.start, cmd.range.end, f"{cmd.keyword_raw} {json.dumps(new_cmd)}"))
        return self.say("jre", frm, edits, Safety.REVIEW, base=node.base, jre=target, major=info.major or "", how=how)

    # ------------------------------------------------------------------ results

    def _kept(self, node: StageNode, slim: str, reason: str, final: bool) -> Change | None:
        if not final:
            return None
        return self.say("kept", node.stage.from_instruction, base=node.base, slim=slim, reason=reason)

    def _fix(self, m: ImageModel, node: StageNode, info, slim: str, text: str, install: list[str], needs: dict[str, str],  # type: ignore[no-untyped-def]
             f: _Findings, ctx: PassContext) -> Change | None:
        frm = node.stage.from_instruction
        rng = _base_word_range(frm, node.base_text)
        if rng is None:
            return None
        edits = [Edit.replace(rng[0], rng[1], ctx.config.mirror(text))]
        nl = m.doc.newline
        if install:
            line = m.style.line("RUN " + catalog().by_id["apt"].install_command(install))
            end = frm.full_range.end
            prefix = "" if m.doc.text[end - 1 : end] == "\n" else nl
            edits.append(Edit.insert(end, prefix + line + (nl if prefix == "" else "")))
        if info.family == "debian":
            return self.say("slim_debian", frm, edits, Safety.REVIEW, base=node.base_text, slim=text)
        display = family_label(info.family)
        what = f"{display} {info.version}" if info.version else display
        if info.distro and info.os == "debian":
            what += f" on Debian {info.distro}"
        tools = [t for t in needs]
        if tools or f.libraries:
            parts = []
            used = sorted(t for t in tools if t not in f.app_starts)
            if used:
                parts.append(f"of those the stage uses only {', '.join(used)}")
            started = sorted(t for t in tools if t in f.app_starts)
            if started:
                parts.append("the app's source starts " + ", ".join(f"{t} ({f.app_starts[t]})" for t in started))
            if f.libraries:
                parts.append(f"{', '.join(sorted(set(f.libraries.values())))} load{'s' if len(set(f.libraries.values())) == 1 else ''} "
                             f"{', '.join(f.libraries)} at run time")
            uses = "; ".join(parts) + f", so a RUN now installs {' '.join(install)} explicitly"
        else:
            uses = "no command of this stage uses them"
        review = f" and that {f.reviews[0]}" if f.reviews else ""
        other = " other" if f.app_starts else ""
        return self.say("slim", frm, edits, Safety.REVIEW, base=node.base_text, slim=text, what=what, uses=uses, review=review,
                        other=other)


def _dependencies(m: ImageModel, node: StageNode, ins: Instruction, a: Action, ctx: PassContext) -> Dependencies | None:
    """What an install brings (None: an ecosystem without native facts)."""
    context = m.context
    pm = node.image.info.package_manager if node.image and node.image.info else None

    def rel(path: str) -> str | None:
        return m.context_source(node.index, path, ins.index)

    if a.ecosystem == "python":
        if context is None:
            if a.tool in ("pip", "uv-pip") and not a.manifests:
                return python_dependencies(_NoContext(), [], list(a.packages))  # type: ignore[arg-type]
            return Dependencies(unknown=("there is no build context to read the requirements from, so packages that compile could not be ruled out",))
        files: list[str] = []
        unknown: list[str] = []
        named = list(a.packages)
        for man in a.manifests:
            r = rel(man)
            base = posixpath.basename(man)
            if r is not None and context.is_file(r):
                files.append(r)
            elif a.tool in ("pip", "uv-pip") and base not in ("pyproject.toml", "setup.py", "setup.cfg"):
                unknown.append(f"it installs from {man}, which no COPY from the build context put there")
            if a.tool in ("pip", "uv-pip") and base in ("pyproject.toml", "setup.py", "setup.cfg"):
                named.append("./")
        nb = a.flag_value(*a.manager.source_build_flags) if a.manager is not None and a.manager.source_build_flags else None
        no_binary = frozenset(x.strip().lower() for x in nb.split(",")) if nb else frozenset()
        if a.tool in ("pip", "uv-pip") and nb:
            return Dependencies(unknown=("it builds packages from source (--no-binary), which needs a compiler",))
        if a.tool not in ("pip", "uv-pip") and not files:
            unknown.append(f"its lockfile ({', '.join(posixpath.basename(x) for x in a.manifests) or 'none'}) is not in the build context")
        deps = python_dependencies(context, files, named, no_binary=no_binary, package_manager=pm, with_dev=a.has_flag("--dev", "-d"))
        return Dependencies(deps.names, deps.native, (*unknown, *deps.unknown), deps.git, deps.read)
    if a.ecosystem == "node":
        if a.project is None:
            return Dependencies(unknown=("it installs in a folder dockeropt cannot resolve",))
        r = rel(posixpath.join(a.project, "package.json"))
        if context is None or r is None:
            if a.packages:
                names = frozenset(a.packages)
                from dockeropt.model.native import NativeDep

                table = eco.spec("node").get("native", {})
                native = tuple(NativeDep(n, True, (), (), "the command line") for n in names if table.get(n, {}).get("compiles"))
                return Dependencies(names, native)
            return Dependencies(unknown=("it installs npm packages from a package.json dockeropt cannot read, so native modules "
                                         "could not be ruled out",))
        return node_dependencies(context, posixpath.dirname(r) or ".", package_manager=pm)
    if a.ecosystem == "ruby":
        if context is None or a.project is None:
            return Dependencies(unknown=("the gems it installs cannot be read without a build context, so gems that compile could not be ruled out",))
        r = rel(posixpath.join(a.project, "Gemfile"))
        if r is None:
            return Dependencies(unknown=("no COPY from the build context put a Gemfile there",))
        return ruby_dependencies(context, posixpath.dirname(r) or ".", package_manager=pm)
    return None


class _NoContext:
    """``pip install <names>`` without a build context: the names on the command line are all there is."""

    def read_text(self, rel: str, limit: int | None = None) -> None:
        return None


def _base_text(node: StageNode, new: str) -> str | None:
    return base_text_for(node.base_text, node.base, new)


def _launch_script(ins: Instruction) -> Script | None:
    """The commands a CMD/ENTRYPOINT/HEALTHCHECK runs (None: not understood)."""
    if ins.keyword == "HEALTHCHECK":
        mm = re.match(r"^\s*((--\S+\s+)*)(CMD|NONE)\b\s*(.*)$", ins.args, re.I | re.S)
        if not mm or mm.group(3).upper() == "NONE":
            return parse_script("true")
        rest = mm.group(4)
        if rest.lstrip().startswith("["):
            import json

            try:
                argv = json.loads(rest)
            except ValueError:
                return None
            if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
                return None
            return _argv_script(argv)
        return parse_script(rest)
    if ins.json:
        return _argv_script(list(ins.exec_args or ()))
    words, _ = launch_words(ins)
    return parse_script(ins.args) if words is None else _argv_script(list(words))


def _argv_script(argv: list[str]) -> Script | None:
    if not argv:
        return parse_script("true")
    if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
        return parse_script(argv[2])
    return parse_script(" ".join(a if re.match(r"^[A-Za-z0-9_./:=@%+,-]+$", a) else "'" + a.replace("'", "'\\''") + "'" for a in argv))


def _base_word_range(frm: Instruction, base: str) -> tuple[int, int] | None:
    start = frm.args_start
    text = frm.logical.text
    idx = text.find(base, start)
    if idx < 0 or not frm.logical.is_contiguous(idx, idx + len(base)):
        return None
    r = frm.logical.physical(idx, idx + len(base))
    return r.start, r.end
