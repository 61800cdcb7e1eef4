"""DO301 non-root-user."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dockeropt.edits import Change, Edit, Safety, apply_edits
from dockeropt.model import ImageModel, StageNode
from dockeropt.model.homes import PrivateWrite, in_private_home, move_for, private_writes, root_files_app_writes
from dockeropt.model.runtime import runtime_catalog
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import parse_script
from dockeropt.syntax import Dockerfile, Instruction, parse


def _nr() -> dict[str, Any]:
    return runtime_catalog()["non_root"]


def _tools() -> dict[str, Any]:
    return runtime_catalog()["tool_images"]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _is_system(path: str) -> bool:
    p = posixpath.normpath(path)
    return p in _nr()["system_folders"] or (p + "/").startswith(tuple(_nr()["system_trees"]))


def _app_data_dir(path: str) -> bool:
    """A folder below a system tree where apps keep their state (``/var/log/myapp``; catalog ``app_data_trees``)."""
    data = _nr()["app_data_trees"]
    p = posixpath.normpath(path)
    for tree in data["trees"]:
        if p.startswith(tree):
            first = p[len(tree):].split("/", 1)[0]
            return bool(first) and first not in data["system_names"]
    return False


@dataclass(frozen=True)
class _User:
    name: str
    uid: int
    gid: int
    create: str | None  # the command that creates it, or None when the image has it


def _names(ins: Instruction | None) -> list[str] | None:
    """Program names a CMD/ENTRYPOINT runs (inside ``sh -c`` too); None when it cannot be read."""
    if ins is None:
        return []
    if ins.json and ins.exec_args is not None:
        argv = list(ins.exec_args)
        if len(argv) >= 3 and posixpath.basename(argv[0]) in _tools()["shells"] and argv[1] == "-c":
            script = parse_script(argv[2])
            return [posixpath.basename(c.name or "") for c in script.commands] if script.ok else None
        return [posixpath.basename(argv[0])] if argv else []
    script = parse_script(ins.args)
    return [posixpath.basename(c.name or "") for c in script.commands] if script.ok else None


def _hides_from_others(mode: str) -> bool:
    """A chmod mode that leaves other users no read permission (``600``, ``0750``, ``o-r``, ``go=``)."""
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return not int(mode[-1]) & 4
    for clause in mode.split(","):
        m = re.fullmatch(r"([ugoa]*)([-+=])([rwxXst]*)", clause)
        if m is None:
            return False  # a mode dockeropt does not read: say nothing
        who, op, perms = m.groups()
        if who and not set(who) & {"o", "a"}:
            continue
        if (op == "-" and "r" in perms) or (op == "=" and "r" not in perms):
            return True
    return False


def _one_line(text: str) -> str:
    """An instruction's text on one line (continuations joined), for a note."""
    return " ".join(re.sub(r"\\\n", " ", text).split())


def _path_edits(doc_text: str, ins: Instruction, old: str, new: str) -> list[Edit]:
    """Replace the folder ``old`` by ``new`` wherever the instruction's text names it (as a whole path part)."""
    start, end = ins.range.start, ins.range.end
    text = doc_text[start:end]
    out = []
    for mt in re.finditer(re.escape(old) + r"(?=$|[/:\s\"'}])", text):
        out.append(Edit.replace(start + mt.start(), start + mt.end(), new))
    return out


@register
class NonRootUser(Pass):
    """Run the final image as a non-root user, by number, where that keeps the app working.

    What it does:
        When the final stage runs as root (no USER, or the base image's
        default), it adds `USER uid:gid` (numbers, so Kubernetes
        `runAsNonRoot` can verify it; the name is in the explanation) for an
        account that fits the base: `node` (1000:1000) in the official node
        images, `nonroot` (65532:65532) on distroless, and on Debian/Ubuntu or
        Alpine bases a new system account created first (`useradd --system`,
        `addgroup -S`/`adduser -S` on Alpine; the uid comes from the
        `default_uid` setting, 10001). USER goes after the last RUN, so
        installs keep running as root, and build stages stay root. So the app
        can still write where it works, COPY/ADD into the working folder,
        VOLUMEs and folders created with `mkdir` get `--chown`, and those
        folders themselves are handed to the user with a non-recursive
        `chown`; the explanation names only folders the image model shows
        the user owns after the fix (a folder created below /var/log, /var/lib,
        /var/cache or /run, such as /var/log/myapp, is the app's too). A private key a RUN writes there as root
        with mode 600 (`openssl req -keyout`, `openssl genrsa -out`,
        `ssh-keygen -f`) is chowned too, or the app could not read it; so is
        what a RUN there makes readable by its owner only (`chmod 600
        key.pem`; after `chmod -R go-rwx secrets`, with `chown -R`). Installs that went into root's private
        home (mode 0700) are moved to a folder every user can read first:
        `pip install --user` through `PYTHONUSERBASE`, an npm global prefix
        under /root, a pipenv virtualenv (`PIPENV_VENV_IN_PROJECT=1`),
        corepack's downloads (`COREPACK_HOME`); `PATH` entries that named the
        old folder follow. It keeps root, with a note naming the line, when
        such an install cannot be moved with certainty (a poetry virtualenv;
        a RUN that executes one of the project's own files as root, such as
        `python download_models.py` or `npm run S` whose script runs a .js
        file, when that file refers to the home folder (`Path.home()`,
        `os.homedir()`, `process.env.HOME`): what it writes is in /root, and
        the note says to set that folder through a variable outside /root or
        to run that step after a USER line;
        a yarn 2+ Plug'n'Play install whose package cache, which .pnp.cjs
        reads at run time, is in /root: yarn 4 turns `enableGlobalCache` on
        by default, and the note says to set `enableGlobalCache: false` or
        `nodeLinker: node-modules`, while yarn 2 and 3 keep the cache in the
        project's .yarn/cache, which the new user can read; a copy into
        /root; a command that names the folder), when the image
        is a tool box (tcpdump, strace, sudo, … or it starts a shell), when
        the base is unknown or has no way to add a user, when it starts as
        root on purpose (nginx, php-fpm, apache, gosu/su-exec entrypoints),
        or when its start command is a shell script from the build context
        that switches users or chowns folders itself, or a RUN makes a file
        outside the app folder unreadable for other users (`chmod 600`), or a
        RUN runs a project file that creates a file the app's own source
        also writes by the same path (`python init_db.py` and the app's
        `sqlite3.connect("data/app.db")`: the folder gets the new owner, the
        file would stay root's); a note names the line.

    Why:
        A process running as root inside the container is root on the host's
        kernel: a container escape or a writable host mount then hands an
        attacker full control. Most apps need no privileges at all.

    Example:
        # before
        FROM node:18-slim
        WORKDIR /app
        COPY . .
        RUN npm ci --omit=dev
        CMD ["node", "server.js"]
        # after
        FROM node:18-slim
        WORKDIR /app
        COPY --chown=1000:1000 . .
        RUN npm ci --omit=dev
        RUN chown 1000:1000 /app
        USER 1000:1000
        CMD ["node", "server.js"]

    Fix safety:
        Review. The user exists in the image and the working folder stays
        writable, but the app may write elsewhere (a cache under /var, a
        socket under /run) or bind a port below 1024, which needs root
        outside Docker 20.10+'s default settings (Kubernetes, older engines).
        Start the container and exercise it.
    """

    id = "DO301"
    name = "non-root-user"
    after = ("DO201", "DO202")
    messages = {
        "added": Message(
            "Run as the non-root user {name} ({numeric})",
            "The app now runs as `{name}` ({who}) instead of root, written as `USER {numeric}` so Kubernetes "
            "`runAsNonRoot` can check it (a name cannot be verified); USER goes {where}.{moves}{owned}{check}{ports}",
        ),
        "unknown_base": Message(
            "The image runs as root",
            "dockeropt does not know the users of `{base}`; add a USER that exists in it, and chown the folders the app "
            "writes.",
        ),
        "no_user": Message(
            "The image runs as root",
            "`{base}` has no user dockeropt can use or create safely ({why}); add a non-root USER yourself.",
        ),
        "tool_image": Message(
            "The image keeps running as root: it is a tool image",
            "{why} Tools like these need root or its capabilities, so a non-root USER would stop the image doing what it "
            "exists for; dockeropt leaves it as root. If it also runs a service, split the service into an image of its "
            "own and run that one as a non-root user.",
        ),
        "private_home": Message(
            "The image keeps running as root: line {line} installs into root's home",
            "Line {line} puts {what} in {path}, inside /root, which only root can enter (mode 0700): as another user "
            "the app would not find it. {fix}",
        ),
        "private_home_script": Message(
            "The image keeps running as root: line {line} runs a project file that writes under $HOME",
            "Line {line} (`{text}`) runs {file} as root, and {file} uses the home folder: what it writes there "
            "lands in {path}, which only root can enter (mode 0700), so the app, running as another user with its "
            "own home, would not find it. {fix}",
        ),
        "private_workdir": Message(
            "The image keeps running as root: line {line} puts the app in root's home",
            "Line {line} makes {path} the working folder, and the app's files are copied there; it is inside /root, "
            "which only root can enter (mode 0700): as another user the app could not reach its own files. Set "
            "WORKDIR to a folder outside /root (such as /app), then run dockeropt again to add a non-root USER.",
        ),
        "root_only": Message(
            "The image keeps running as root: line {line} makes {path} readable by root only",
            "Line {line} runs `chmod {mode}` on {path}, which stays owned by root: as another user the app could not "
            "read it. dockeropt keeps root. Give it to the app's user at build time (`COPY --chown=<uid>:<gid>`, or "
            "`chown` before the chmod), then add a non-root USER.",
        ),
        "root_created": Message(
            "The image keeps running as root: line {line} creates a file the app writes",
            "Line {line} (`{text}`) runs {file} as root, which creates {path}; the app writes that file when it runs "
            "({app_file}), and as another user it could not: a new USER gives the folders their owner, not the files a "
            "step makes in them, so {path} would stay root's. dockeropt keeps root. Give the file to the app's user in "
            "that step (a `chown` at the end of the RUN, or run the step after the USER line), then add a non-root "
            "USER.",
        ),
        "root_key": Message(
            "The image keeps running as root: line {line} writes a private key only root can read",
            "Line {line} writes {path} as root with mode 600 (`{program}` creates private keys that way), outside the "
            "folder the app gets: as another user the app could not read it. dockeropt keeps root. Write the key into "
            "the app's folder, or `chown` it to the app's user in the same RUN, then add a non-root USER.",
        ),
        "root_script": Message(
            "The image keeps running as root: its start script needs root",
            "Line {line} starts {script}, which runs `{program}`: the script needs root when the container starts "
            "(it switches to another user or changes owners itself), so a USER line would make it fail there. "
            "dockeropt keeps root; the script already decides who the app runs as. To run as non-root without it, "
            "drop that step from the script, give the folders their owner at build time, then add a USER.",
        ),
        "names_private": Message(
            "The image keeps running as root: line {line} names {path}",
            "Line {line} uses {path}, inside /root, which only root can enter (mode 0700), where line {install} puts "
            "{what}: as another user it would not be found, and with that line naming the folder dockeropt cannot move "
            "it with certainty. Install into a folder outside /root (or name it through a variable), then add a "
            "non-root USER.",
        ),
        "no_chown": Message(
            "The image runs as root",
            "{dirs} must become writable for a non-root user, and `{base}` has no shell to chown it; set USER and "
            "ownership yourself.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return []
        m = ctx.model(doc)
        found = self._check(doc, m, ctx)
        return [found] if found is not None else []

    def _check(self, doc: Dockerfile, m: ImageModel, ctx: PassContext) -> Change | None:
        final = m.graph.final
        rt = m.runtime
        if final is None or rt is None:
            return None
        stage = final.stage
        frm = stage.from_instruction
        if final.parent is not None or "$" in final.base_text:
            return None  # inherits another stage's user, or the base is a build argument
        img = final.image
        if img is None or img.scratch:
            return None
        for i in stage.body:  # any USER line (a plain loop: it runs over the whole stage)
            if i.keyword == "USER":
                return None  # already decided (a non-root user, or root on purpose)
        info = img.info
        if info is None:
            return self.say("unknown_base", frm, base=final.base_text)
        if info.default_user not in (None, "root"):
            return None
        for spec in _nr()["root_images"]:
            if spec["family"] == info.family and spec.get("flavor", info.flavor) == info.flavor:
                return None  # the server starts as root and drops privileges itself
        launch: list[str] = []
        for ins in (rt.start.entrypoint, rt.start.cmd, *[i for i in stage.body if i.keyword in ("CMD", "ENTRYPOINT")]):
            names = _names(ins)
            if names is None:
                return None
            launch.extend(names)
        if any(n in _nr()["root_launchers"] for n in launch):
            return None
        script = self._root_start_script(m, final, rt.start)
        if script is not None:
            return script
        for ins in stage.body:
            if ins.keyword == "ONBUILD" or (ins.keyword == "RUN" and ins.heredocs and m.run(ins) is not None
                                             and m.run(ins).script is None):  # type: ignore[union-attr]
                return None
        tool = self._tool_image(m, final, rt.start.known, launch, info.family)
        if tool is not None:
            return self.say("tool_image", tool[0], why=tool[1])
        user = self._pick_user(m, final, ctx)
        if isinstance(user, str):
            return self.say("no_user", frm, base=final.base_text, why=user)
        moves = self._moves(doc, m, final)
        if isinstance(moves, Change):
            return moves
        move_edits, move_notes = moves
        private = self._root_only_files(m, final)
        if private is not None:
            return private
        shared = root_files_app_writes(m, final.index)
        if shared is not None:
            ins = shared.instruction
            return self.say("root_created", ins, line=ins.start_line, text=_one_line(ins.text), file=shared.file,
                            path=shared.path, app_file=shared.app_file)
        return self._fix(doc, m, ctx, final, user, move_edits, move_notes)

    # ------------------------------------------------------------------ decisions

    def _root_only_files(self, m: ImageModel, final: StageNode) -> Change | None:
        """A note when a RUN makes a file or folder unreadable for other users (``chmod 600``) outside the app folder.

        The file stays owned by root, so after a new USER the app could not read it (a config file it needs).
        """
        end = m.end_state(final.index)
        app = posixpath.normpath(end.workdir) if end.workdir and not _is_system(end.workdir) else None
        for n in m.chain(final.index)[::-1]:
            for h in _hidden_from_others(m, n.index, ["/"]):
                if app is not None and _under(h.path, app):
                    continue  # the app folder: its copies get --chown to the new user, the fix hands the rest over
                return self.say("root_only", h.instruction, line=h.instruction.start_line, path=h.path, mode=h.mode)
        for key in _private_outputs(m, final.index, ["/"]):
            if app is not None and _under(key.path, app):
                continue  # the app folder: DO301's chown hands it over
            if key.handled:
                continue  # a chown or chmod of that path decides who reads it
            return self.say("root_key", key.instruction, line=key.instruction.start_line, path=key.path, program=key.program)
        return None

    def _root_start_script(self, m: ImageModel, final: StageNode, start: Any) -> Change | None:
        """A note when the start command is a shell script from the build context that needs root itself.

        ``ENTRYPOINT ["/srv/entrypoint.sh"]`` whose script runs ``gosu app "$@"`` or chowns a volume first:
        under a new USER the script would fail at start (gosu cannot switch users, chown is refused).
        """
        ins = start.entrypoint or start.cmd
        argv = start.argv
        if ins is None or not argv or m.context is None:
            return None
        program = argv[0]
        if posixpath.basename(program) in _tools()["shells"] and len(argv) > 1 and not argv[1].startswith("-"):
            program = argv[1]  # sh /srv/entrypoint.sh
        if not program.startswith("/"):
            end = m.end_state(final.index)
            if "/" not in program or not end.workdir:
                return None
            program = posixpath.join(end.workdir, program)
        rel = m.context_source(final.index, program)
        if rel is None or not m.context.is_file(rel):
            return None
        text = m.context.read_text(rel, limit=256 * 1024)
        if text is None or not text.startswith("#!") or not re.match(r"#!\s*\S*(?:/|env\s+)(?:ba|da|a)?sh\b", text):
            return None
        parsed = parse_script(text)
        if not parsed.ok:
            return None
        names = [posixpath.basename(c.name or "") for c in parsed.commands]
        needs = [n for n in names if n in _nr()["root_launchers"] or n in _nr()["root_start_commands"]]
        if not needs:
            return None
        return self.say("root_script", ins, line=ins.start_line, script=rel, program=needs[0])

    def _tool_image(self, m: ImageModel, final: StageNode, known: bool, launch: list[str], family: str) -> tuple[Instruction, str] | None:
        """(the line that shows it, why) when the image exists to run privileged tools or a shell."""
        tools = _tools()
        pkgs = set(tools["packages"])
        for n in m.chain(final.index)[::-1]:
            for ins, facts in m.stage_runs(n.index):
                # the usual RUN installs none of them: test with plain loops before building the sorted list
                hit = False
                for a in facts.actions:
                    if a.installs:
                        for p in a.packages:
                            if p.split("=", 1)[0] in pkgs:
                                hit = True
                                break
                        if hit:
                            break
                if not hit:
                    continue
                found = sorted({p.split("=", 1)[0] for a in facts.actions if a.installs for p in a.packages} & pkgs)
                if found:
                    shown = ", ".join(f"`{p}`" for p in found)
                    return ins, f"Line {ins.start_line} installs {shown}."
        shells = set(tools["shells"])
        start = m.runtime.start if m.runtime is not None else None
        if start is not None and start.argv is not None and len(start.argv) == 1 and posixpath.basename(start.argv[0]) in shells:
            at = start.cmd or start.entrypoint
            assert at is not None
            return at, f"It starts `{start.argv[0]}`, an interactive shell, not a server (line {at.start_line})."
        if not known and family in tools.get("shell_families", ()):
            return final.stage.from_instruction, f"It sets no CMD, so `{final.base_text}` starts its shell."
        return None

    def _pick_user(self, m: ImageModel, final: StageNode, ctx: PassContext) -> _User | str:
        img = final.image
        assert img is not None and img.info is not None
        info = img.info
        for spec in _nr()["app_accounts"]:
            if spec["family"] != info.family:
                continue
            acct = img.accounts.get(spec["account"])
            if acct is not None and acct.uid is not None:
                return _User(acct.name, acct.uid, acct.gid if acct.gid is not None else acct.uid, None)
        if info.is_distroless or not info.has_shell:
            return "it has no shell to create one"
        uid = ctx.config.default_uid
        accounts = m.end_state(final.index).accounts
        if uid == 0 or any(a.uid == uid or a.gid == uid for a in accounts.values()):
            return f"uid {uid} (the default_uid setting) is taken"
        name = "app" if "app" not in accounts else "appuser"
        pm = info.package_manager
        create = _nr()["create_account"].get(pm or "")
        if create is None or (pm == "apt" and info.os not in ("debian", "ubuntu")) or (pm == "apk" and info.libc != "musl"):
            return "dockeropt has no account-creation command for it"
        return _User(name, uid, uid, create.format(name=name, uid=uid, gid=uid))

    def _moves(self, doc: Dockerfile, m: ImageModel, final: StageNode) -> tuple[list[Edit], list[str]] | Change:
        """Edits that send installs out of root's private home, with what they do; a note when one cannot move."""
        writes = private_writes(m, final.index)
        edits: list[Edit] = []
        notes: list[str] = []
        set_env: dict[str, tuple[Instruction, str]] = {}
        renames: dict[str, tuple[str, PrivateWrite]] = {}  # old folder -> (new folder, the install that moves)
        for w in writes:
            mv = move_for(w)
            if mv is None or not mv.get("apply") or w.path is None:
                return self._blocked(w, mv)
            ins = w.instruction
            if "set_env" in mv:
                name = mv["set_env"]
                env = w.action.env if w.action is not None else m.state(ins).env
                if env.value(name) != "" or env.get(name) is not None:
                    return self._blocked(w, None)  # already set to a private folder: not a plain move
                value = mv.get("value") or mv["to"]
                set_env.setdefault(name, (ins, value))
                if mv.get("to"):
                    renames[w.path] = (mv["to"], w)
                notes.append(f"{mv['what'].format(to=mv.get('to', ''))} (line {ins.start_line})")
            elif "env" in mv:
                var = None
                if w.action is not None:
                    for cand in (mv["env"], mv["env"].lower()):
                        v = w.action.env.get(cand)
                        if v is not None:
                            var = v
                            break
                if var is None or var.origin != "env" or var.instruction is None or var.value is None:
                    return self._blocked(w, None)
                renames[posixpath.normpath(var.value)] = (mv["to"], w)
                notes.append(f"{mv['what'].format(to=mv['to'])} (line {doc.instructions[var.instruction].start_line})")
            else:
                return self._blocked(w, None)
        # ENV lines that name a moved folder follow it; any other line that names one blocks the move
        touched: set[int] = set()
        for n in m.chain(final.index)[::-1]:
            for ins in n.stage.body:
                for old, (new, src) in renames.items():
                    if old not in ins.text:
                        continue
                    if ins.keyword != "ENV":
                        line_writes = [w for w in writes if w.instruction is ins]
                        if not line_writes:
                            return self.say("names_private", ins, line=ins.start_line, path=old,
                                            install=src.instruction.start_line, what=src.what)
                        continue
                    edits.extend(_path_edits(doc.text, ins, old, new))
                    touched.add(ins.index)
        style = m.style
        for name, (ins, value) in sorted(set_env.items(), key=lambda kv: kv[1][0].index):
            edits.append(Edit.insert(ins.range.start, style.line(f"ENV {name}={value}") + style.newline))
        return edits, notes

    def _blocked(self, w: PrivateWrite, mv: dict[str, Any] | None) -> Change:
        ins = w.instruction
        if w.tool == "workdir":
            return self.say("private_workdir", ins, line=ins.start_line, path=w.path)
        if w.kind == "home-source" and mv is not None:
            file = w.what.removeprefix("what ").split(" writes ")[0]
            return self.say("private_home_script", ins, line=ins.start_line, text=_one_line(ins.text), file=file,
                            path=w.path or "/root", fix=mv["fix"])
        if mv is not None and not mv.get("apply") and mv.get("fix"):
            fix = mv["fix"]
        elif mv is not None and not mv.get("apply"):
            fix = (f"Moving {mv['what'].format(to=mv.get('to', ''))} would fix it, but dockeropt has not proven that "
                   "move by a build; set it yourself, then add a non-root USER.")
        elif w.path is None:
            fix = "dockeropt cannot tell where that home is, so it keeps root; install into a shared folder first."
        else:
            fix = ("dockeropt knows no certain way to move it, so it keeps root; install it into a folder outside /root "
                   "(a virtualenv under /opt, a global prefix under /usr/local), then add a non-root USER.")
        return self.say("private_home", ins, line=ins.start_line, what=w.what, path=w.path or "a home folder", fix=fix)

    # ------------------------------------------------------------------ the fix

    def _fix(self, doc: Dockerfile, m: ImageModel, ctx: PassContext, final: StageNode, user: _User,
             move_edits: list[Edit], move_notes: list[str]) -> Change | None:
        stage = final.stage
        body = stage.body
        frm = stage.from_instruction
        style = m.style
        owner = f"{user.uid}:{user.gid}"
        runs = [i for i in body if i.keyword == "RUN"]
        anchor = runs[-1] if runs else frm
        end = m.end_state(final.index)
        problems: list[str] = []
        writable: list[str] = []
        if not any(i.keyword == "WORKDIR" for n in m.chain(final.index) for i in n.stage.body):
            problems.append("the app runs in the base image's own working folder")
        elif end.workdir is None:
            return None
        elif _is_system(end.workdir):
            problems.append(f"the app works in {end.workdir}, a system folder that stays owned by root")
        else:
            writable.append(end.workdir)
        made: set[str] = set()
        volumes: set[str] = set()
        for ins in body:
            if ins.keyword == "VOLUME":
                wd = m.state(ins).workdir
                for w in ins.words:
                    p = posixpath.normpath(posixpath.join(wd or "/", w)) if "$" not in w else None
                    if p and not _is_system(p):
                        volumes.add(p)
                        if p not in writable:
                            writable.append(p)
            facts = m.run(ins)
            if facts is not None:
                for a in facts.actions:
                    if a.tool == "mkdir":
                        for w in a.writes:
                            if w.path and (not _is_system(w.path) or _app_data_dir(w.path)) and not in_private_home(w.path):
                                made.add(w.path)
                                if w.path not in writable:
                                    writable.append(w.path)
        keys = [(k.path, k.instruction.start_line) for k in _private_outputs(m, final.index, writable)]  # private keys a RUN wrote there as root
        edits: list[Edit] = list(move_edits)
        chowned = False
        chowned_copies: set[int] = set()
        for ins in body:
            cf = m.copy(ins)
            if cf is None or cf.chown is not None:
                continue
            dest = cf.dest.rstrip("/") or "/"
            if not any(_under(dest, d) for d in writable):
                continue
            kw_end = ins.logical.physical(0, len(ins.keyword_raw)).end
            edits.append(Edit.insert(kw_end, f" --chown={owner}"))  # right after the keyword, before any other flag
            chowned = True
            chowned_copies.add(ins.index)
        # files a RUN leaves readable by their owner only (chmod 600): the chown hands them over too, except one a COPY
        # that now gets --chown brings (the user's already)
        found_hidden = [(h.path, h.instruction.start_line, h.recursive) for h in _hidden_from_others(m, final.index, writable)
                        if all(h.path != k for k, _ in keys)]
        given = {cf.target_of(src) for ins in body if ins.index in chowned_copies and (cf := m.copy(ins)) is not None
                 for src in cf.sources}
        hidden = [(path, line) for path, line, rec in found_hidden
                  if not rec and path not in made and path not in volumes and path not in given]
        hidden_trees = [(path, line) for path, line, rec in found_hidden if rec]  # chmod -R: what it holds needs chown -R
        # folders that exist (root's) when USER takes effect are handed over with a non-recursive chown
        before = anchor.index + 1
        need = [d for d in writable if d in made or d in volumes or m.ownership.is_dir(final.index, d, before)]
        lines: list[str] = []
        if need:
            if not (final.image and final.image.has_shell):
                return self.say("no_chown", frm, dirs=", ".join(need), base=final.base_text)
            exist = all(d in made or m.ownership.is_dir(final.index, d, before) for d in need)
            mk = "" if exist else f"mkdir -p {' '.join(need)} && "
            lines.append(f"RUN {mk}chown {owner} {' '.join(need + [k for k, _ in keys + hidden if k not in need])}")
        elif keys or hidden:
            if not (final.image and final.image.has_shell):
                return self.say("no_chown", frm, dirs=", ".join(k for k, _ in keys + hidden), base=final.base_text)
            lines.append(f"RUN chown {owner} {' '.join(k for k, _ in keys + hidden)}")
        if hidden_trees:
            if not (final.image and final.image.has_shell):
                return self.say("no_chown", frm, dirs=", ".join(k for k, _ in hidden_trees), base=final.base_text)
            lines.append(f"RUN chown -R {owner} {' '.join(k for k, _ in hidden_trees)}")
        lines.append(f"USER {owner}")
        if user.create is not None:
            if anchor is frm:
                lines.insert(0, f"RUN {user.create}")
            else:
                edits.append(_insert_after(doc.text, frm, [style.line(f"RUN {user.create}")], style.newline))
        edits.append(_insert_after(doc.text, anchor, [style.line(t) for t in lines], style.newline))
        if move_edits:
            # the moves, checked with the model of the text they give (rare, so the extra model stays cheap overall)
            try:
                new_doc = parse(apply_edits(doc.text, edits))
            except Exception:  # noqa: BLE001 - an edit that does not parse is not proposed
                return None
            m2 = ImageModel.build(new_doc, ctx.context, ctx.config)
            f2 = m2.graph.final
            if f2 is None or private_writes(m2, f2.index) or m2.end_state(f2.index).user.uid != user.uid:
                return None
        owned, rooted = [], []
        for d in writable:
            ev, uid = _owner_after(m, final.index, d, anchor.index, chowned_copies, d in need, user.uid)
            if uid == user.uid:
                owned.append(d)
            elif ev is not None:
                how = {"copy": "the COPY", "workdir": "the WORKDIR", "mkdir": "the mkdir", "install": "the install",
                       "chown": "the chown"}.get(ev.how, "line")
                rooted.append(f"{d} stays owned by root (created by {how} on line {doc.instructions[ev.instruction].start_line})"
                              ": the app cannot write there")
        root_made = sorted({doc.instructions[ev.instruction].start_line for ev in m.ownership.events(final.index)
                            if ev.how == "install" and ev.owner.is_root and any(_under(ev.path, d) and ev.path != d for d in owned)})
        who = (f"uid {user.uid}, gid {user.gid}, created by a new RUN" if user.create
               else f"uid {user.uid}, gid {user.gid}, part of `{final.base_text}`")
        where = "after the last RUN, so installs still run as root" if runs else "right after FROM, as the stage runs no commands"
        moves = (" Moved first, because /root is open to root only: " + "; ".join(move_notes) + ".") if move_notes else ""
        owned_text = ""
        if owned:
            owned_text = f" {', '.join(owned)} {'is' if len(owned) == 1 else 'are'} owned by {user.name}"
            owned_text += " and files copied there get --chown" if chowned else ""
            owned_text += ", so the app can still write there"
            if root_made:
                owned_text += f"; what line{'s' if len(root_made) > 1 else ''} {', '.join(map(str, root_made))} install{'' if len(root_made) > 1 else 's'} there stays root's (readable, not writable)"
            owned_text += "."
        for r in rooted:
            owned_text += f" {r[:1].upper()}{r[1:]}."
        if keys:
            owned_text += (f" The chown also gives {user.name} {', '.join(k for k, _ in keys)}, the private key"
                           f"{'s' if len(keys) > 1 else ''} line{'s' if len({n for _, n in keys}) > 1 else ''} "
                           f"{', '.join(sorted({str(n) for _, n in keys}))} write{'' if len({n for _, n in keys}) > 1 else 's'} "
                           "as root with mode 600, which only its owner can read.")
        if hidden or hidden_trees:
            both = hidden + hidden_trees
            lines_of = sorted({n for _, n in both})
            owned_text += (f" The chown also gives {user.name} {', '.join(k for k, _ in both)}"
                           f"{' (with what it holds)' if hidden_trees and not hidden else ''}, which line"
                           f"{'s' if len(lines_of) > 1 else ''} {', '.join(map(str, lines_of))} "
                           f"make{'' if len(lines_of) > 1 else 's'} readable by {'their' if len(both) > 1 else 'its'} owner only.")
        check = f" Note: {problems[0]}; check that the app does not write there." if problems else " Check that the app writes to no other folder."
        # EXPOSE lines and the port the start command, the source or ENV PORT makes the app listen on
        heard = [*(m.runtime.exposed if m.runtime else ()), *([m.runtime.listen] if m.runtime and m.runtime.listen else [])]
        low = sorted({p.number for p in heard if p.number is not None and 0 < p.number < 1024})
        ports = (f" It listens on port {low[0]}, below 1024: Docker 20.10+ lets non-root processes bind it on its own networks, "
                 "but not with --network host, and Kubernetes and older engines do not either, so move it to a port above 1024 there.") if low else ""
        return self.say("added", frm, edits, Safety.REVIEW, name=user.name, numeric=owner, who=who, where=where,
                        moves=moves, owned=owned_text, check=check, ports=ports)


@dataclass(frozen=True)
class _Key:
    path: str
    instruction: Instruction
    program: str  # the command as the catalog names it (`openssl req`)
    handled: bool  # a chown or chmod in the stage names the path (the Dockerfile decides who reads it)


@dataclass(frozen=True)
class _Hidden:
    path: str
    instruction: Instruction
    mode: str  # as written (600, go-rwx)
    recursive: bool  # chmod -R: what the folder holds too


def _hidden_from_others(m: ImageModel, stage: int, under: list[str]) -> list[_Hidden]:
    """What a RUN of the stage chmods so that other users cannot read it (``chmod 600 key.pem``, ``chmod -R go-rwx
    secrets``), under one of the folders ``under``: a file a RUN made stays root's, so under a new USER the app could
    not read it."""
    return [h for h in _hidden_files(m, stage) if any(_under(h.path, d) for d in under)]


def _hidden_files(m: ImageModel, stage: int) -> list[_Hidden]:
    """Every file :func:`_hidden_from_others` may report for ``stage``, first chmod first. Read once per model
    (DO301 asks twice, for two sets of folders)."""
    key = ("DO301.hidden", stage)
    got = m._lookups.get(key)
    if got is not None:
        return got  # type: ignore[return-value]
    out: list[_Hidden] = []
    seen: set[str] = set()
    for ins in m.graph[stage].stage.body:
        facts = m.run(ins)
        if facts is None:
            continue
        for a in facts.actions:
            if a.verb != "chmod":
                continue
            every = [x.text for x in a.command.effective()[1:]]
            recursive = any(w in ("-R", "--recursive") or re.fullmatch(r"-[a-zA-Z]*R[a-zA-Z]*", w) for w in every)
            words = [w for w in every if not w.startswith("-") or _hides_from_others(w)]  # `-r` style modes: go-r is one
            if len(words) < 2 or not _hides_from_others(words[0]):
                continue
            cwd = a.cwd or m.state(ins).workdir or "/"
            for target in words[1:]:
                if "$" in target or "*" in target:
                    continue
                path = posixpath.normpath(posixpath.join(cwd, target))
                if path not in seen:  # the first chmod of a path wins
                    seen.add(path)
                    out.append(_Hidden(path, ins, words[0], recursive))
    m._lookups[key] = out
    return out


def _private_outputs(m: ImageModel, stage: int, under: list[str]) -> list[_Key]:
    """Files a RUN of the stage writes with mode 600 (catalog ``non_root.private_outputs``: ``openssl req
    -keyout``, ``openssl genrsa -out``, ``ssh-keygen -f``) under one of the folders ``under``."""
    return [_Key(path, ins, program, handled) for path, ins, program, handled in _private_output_files(m, stage)
            if any(_under(path, d) for d in under)]


def _private_output_files(m: ImageModel, stage: int) -> list[tuple[str, Instruction, str, bool]]:
    """Every file :func:`_private_outputs` may report for ``stage``, first writer first: (path, RUN, program,
    whether a chown/chmod of the stage names it). Read once per model (DO301 asks twice, for two sets of folders)."""
    key = ("DO301.private_outputs", stage)
    got = m._lookups.get(key)
    if got is not None:
        return got  # type: ignore[return-value]
    body = m.graph[stage].stage.body
    specs = _nr().get("private_outputs", {}).get("commands", [])
    named: set[str] = set()  # paths a chown/chmod of the stage names
    found: list[tuple[str, Instruction, str]] = []
    seen: set[str] = set()
    programs = {spec["program"] for spec in specs}
    for ins in body:
        facts = m.run(ins)
        if facts is None:
            continue
        for a in facts.actions:
            eff = a.command.effective()
            if not eff:
                continue
            if a.verb in ("chown", "chmod"):
                cwd = a.cwd or m.state(ins).workdir or "/"
                named.update(posixpath.normpath(posixpath.join(cwd, w.text)) for w in eff[1:] if not w.text.startswith("-"))
                continue
            first = eff[0].text
            prog = first[first.rfind("/") + 1 :]  # posixpath.basename, inline: every command of the stage
            if prog not in programs:
                continue  # the usual command: no spec to try
            words = [w.text for w in eff]
            cwd = a.cwd or m.state(ins).workdir or "/"
            for spec in specs:
                if prog != spec["program"] or (spec["subcommands"] and (len(words) < 2 or words[1] not in spec["subcommands"])):
                    continue
                for i, w in enumerate(words[1:], 1):
                    value = words[i + 1] if w in spec["flags"] and i + 1 < len(words) else None
                    if value is None or "$" in value or "*" in value:
                        continue
                    path = posixpath.normpath(posixpath.join(cwd, value))
                    if path not in seen:  # the first writer of a path wins
                        seen.add(path)
                        found.append((path, ins, " ".join(words[:2]) if spec["subcommands"] else prog))
    out = [(path, ins, program, path in named) for path, ins, program in found]
    m._lookups[key] = out
    return out


def _owner_after(m: ImageModel, stage: int, d: str, anchor: int, chowned: set[int], chowned_at_anchor: bool,
                 uid: int) -> tuple[Any, int | None]:
    """(the event that decides, the owner's uid) of ``d`` at the end of the stage once the fix is in: copies that
    got --chown belong to the user, a WORKDIR after USER creates a missing folder as the user, and the chown at the
    anchor hands ``d`` over unless a later event re-owns it. The ownership model's own rule (latest covering
    event wins; create-if-missing events do not re-own) applied to the edited file, without building it again."""
    found = None
    owner: int | None = None
    for ev in m.ownership.events(stage):
        if not ev.covers(d):
            continue
        if ev.only_if_missing and found is not None:
            continue
        found = ev
        if ev.instruction in chowned or (ev.how == "workdir" and ev.instruction > anchor):
            owner = uid
        else:
            owner = ev.owner.uid
    if chowned_at_anchor and (found is None or found.instruction <= anchor):
        return found, uid
    return found, owner


def _insert_after(text: str, ins: Instruction, lines: list[str], nl: str) -> Edit:
    end = ins.full_range.end
    block = nl.join(lines)
    if text[end - 1 : end] == "\n":
        return Edit.insert(end, block + nl)
    return Edit.insert(end, nl + block)
