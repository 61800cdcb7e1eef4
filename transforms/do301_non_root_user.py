"""DO301 non-root-user."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockeropt.analysis import resolve, workdirs
from dockeropt.catalog.images import ImageInfo, lookup
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import analysis_script, parse_script
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._defer import overlaps, pending_fix_ranges

_ROOT_NAMES = frozenset({"root", "0", "root:root", "0:0", "root:0", "0:root"})
# launchers that start as root and drop privileges themselves, or need root to work
_SELF_DROPPING = frozenset({
    "gosu", "su-exec", "setpriv", "su", "sudo", "runuser", "chpst", "s6-setuidgid", "supervisord", "sshd", "cron",
    "crond", "nginx", "apache2-foreground", "apache2ctl", "httpd", "httpd-foreground", "php-fpm", "postgres",
    "mysqld", "docker-entrypoint.sh", "tini-static",
})
# folders that must never be handed to the app user
_SYSTEM = ("/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys", "/usr", "/usr/local", "/usr/local/bin", "/usr/bin", "/usr/lib", "/usr/local/lib", "/var", "/home", "/opt", "/srv", "/tmp", "/var/lib", "/var/run")


@dataclass(frozen=True)
class _User:
    name: str
    uid: int
    gid: int
    create: str | None  # the RUN that creates it, or None when the image has it


_SYSTEM_TREES = (
    "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/", "/proc/", "/sys/", "/dev/", "/boot/", "/usr/bin/", "/usr/sbin/",
    "/usr/lib/", "/usr/share/", "/usr/include/", "/usr/local/bin/", "/usr/local/sbin/", "/usr/local/lib/",
    "/usr/local/share/", "/usr/local/include/", "/var/lib/", "/var/cache/", "/var/log/",
)


def _is_system(path: str) -> bool:
    p = posixpath.normpath(path)
    return p in _SYSTEM or (p + "/").startswith(_SYSTEM_TREES)


def _pick_user(info: ImageInfo, ctx: PassContext) -> _User | None:
    if info.family == "distroless":
        return _User("nonroot", 65532, 65532, None)
    if "node" in info.users and info.family == "node":
        return _User("node", info.users["node"], info.users["node"], None)
    if info.family == "dotnet" and "app" in info.users:
        return _User("app", info.users["app"], info.users["app"], None)
    if not info.has_shell:
        return None
    uid = ctx.config.default_uid
    name = "app" if "app" not in info.users else "appuser"
    if uid in info.users.values() or uid == 0:
        return None
    if info.package_manager == "apt" and info.os in ("debian", "ubuntu"):
        create = (
            f"groupadd --system --gid {uid} {name} && "
            f"useradd --system --uid {uid} --gid {uid} --create-home --home-dir /home/{name} --shell /usr/sbin/nologin {name}"
        )
        return _User(name, uid, uid, create)
    if info.package_manager == "apk" and info.libc == "musl":
        create = f"addgroup -S -g {uid} {name} && adduser -S -D -u {uid} -G {name} -h /home/{name} -s /sbin/nologin {name}"
        return _User(name, uid, uid, create)
    return None


def _launch_words(ins: Instruction) -> list[str]:
    if ins.json and ins.exec_args is not None:
        argv = list(ins.exec_args)
        if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
            script = parse_script(argv[2])
            return [c.name or "" for c in script.commands] if script.ok else ["?"]
        return [posixpath.basename(argv[0])] if argv else []
    script = parse_script(ins.args)
    return [c.name or "" for c in script.commands] if script.ok else ["?"]


def _ports(stage: Stage) -> list[int]:
    out: list[int] = []
    for ins in stage.body:
        if ins.keyword == "EXPOSE":
            for w in ins.words:
                m = re.match(r"^(\d+)(-\d+)?(/\w+)?$", w)
                if m:
                    out.append(int(m.group(1)))
    return out


@register
class NonRootUser(Pass):
    """Run the final image as a non-root user that exists in the base image.

    What it does:
        When the final stage runs as root (no USER, or the base image's
        default), it adds a USER that fits the base: `node` (uid 1000) in the
        official node images, `nonroot` (65532) on distroless, and on
        Debian/Ubuntu or Alpine bases a new system user created with
        `useradd --system --uid 10001` (`addgroup -S`/`adduser -S` on Alpine;
        the uid comes from the `default_uid` setting). USER goes after the
        last RUN, so package installs keep running as root, and build stages
        stay root. So the app can still write where it works, COPY/ADD into
        the working folder, VOLUMEs and folders created with `mkdir` get
        `--chown`, and those folders themselves are handed to the user with a
        non-recursive `chown` (no copy of the files in a new layer). It leaves
        the file alone, with a note, when the base is unknown, has no way to
        add a user, starts as root on purpose (nginx, php-fpm, apache,
        gosu/su-exec entrypoints), or the app works in a system folder.

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
        USER node
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

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return
        stage = doc.stages[-1]
        ch = self._stage(doc, stage, ctx)
        if ch is not None:
            yield ch

    def _note(self, stage: Stage, title: str, why: str) -> Change:
        return self.change(title, why, stage.from_instruction)

    def _stage(self, doc: Dockerfile, stage: Stage, ctx: PassContext) -> Change | None:
        base = stage.base
        parent = doc.stage_named(base)
        if parent is not None and parent.index < stage.index:
            return None  # inherits another stage's user; not handled
        if "$" in base or base.lower() == "scratch":
            return None
        user_ins = [i for i in stage.body if i.keyword == "USER"]
        if user_ins:
            last = user_ins[-1].args.strip()
            if "$" in last or last.lower() not in _ROOT_NAMES:
                return None  # already non-root (or decided by a variable)
            return None  # an explicit USER root is a decision; leave it
        info = lookup(base)
        if info is None:
            return self._note(stage, "The image runs as root", f"dockeropt does not know the users of `{base}`; add a USER that exists in it, and chown the folders the app writes.")
        if info.default_user not in (None, "root"):
            return None
        if info.family in ("nginx",) or (info.family == "php" and info.flavor in ("fpm", "apache")):
            return None  # the server starts as root and drops privileges itself
        for ins in stage.body:
            if ins.keyword in ("CMD", "ENTRYPOINT"):
                names = _launch_words(ins)
                if "?" in names:
                    return None
                if any(posixpath.basename(n) in _SELF_DROPPING for n in names):
                    return None
            if ins.keyword == "ONBUILD" or (ins.keyword == "RUN" and ins.heredocs and analysis_script(ins, doc.text) is None):
                return None
        # DO201 is about to split this stage: add the user to the runtime stage it creates, next round
        if overlaps(pending_fix_ranges("DO201", doc, ctx), stage.from_instruction.range.start, stage.instructions[-1].range.end):
            return None
        user = _pick_user(info, ctx)
        if user is None:
            return self._note(stage, "The image runs as root", f"`{base}` has no user dockeropt can use or create safely; add a non-root USER yourself.")
        return self._fix(doc, stage, info, user)

    def _fix(self, doc: Dockerfile, stage: Stage, info: ImageInfo, user: _User) -> Change | None:
        text = doc.text
        nl = doc.newline
        lower = stage.from_instruction.keyword_raw.islower()

        def kw(k: str) -> str:
            return k.lower() if lower else k

        body = stage.body
        wd = workdirs(stage)
        runs = [i for i in body if i.keyword == "RUN"]
        anchor = runs[-1] if runs else stage.from_instruction
        end_wd = wd.get(body[-1].index) if body else None
        if body and body[-1].keyword == "WORKDIR":
            end_wd = resolve(end_wd, body[-1].args.strip())
        # folders the process may write to: the working folder, VOLUMEs, folders made with mkdir
        writable: list[str] = []
        made: set[str] = set()  # folders a RUN creates (they exist, root-owned, when USER takes effect)
        problems: list[str] = []
        if end_wd is None or end_wd.startswith("$"):
            if any(i.keyword == "WORKDIR" for i in body):
                return None
            problems.append("the app runs in the base image's own working folder")
        elif _is_system(end_wd):
            problems.append(f"the app works in {end_wd}, a system folder that stays owned by root")
        else:
            writable.append(end_wd)
        for ins in body:
            if ins.keyword == "VOLUME":
                for w in ins.words:
                    p = resolve(wd.get(ins.index), w)
                    if p and not p.startswith("$") and not _is_system(p) and p not in writable:
                        writable.append(p)
            if ins.keyword == "RUN":
                script = analysis_script(ins, text)
                if script is None or not script.ok:
                    continue
                for c in script.commands:
                    if c.name == "mkdir":
                        cwd = wd.get(ins.index) if c.cwd is None else (None if c.cwd == "?" else resolve(wd.get(ins.index), c.cwd))
                        for a in c.args:
                            if a is None or a.startswith("-"):
                                continue
                            p = resolve(cwd, a)
                            if p and not p.startswith("$") and not _is_system(p):
                                made.add(p)
                                if p not in writable:
                                    writable.append(p)
        owner = f"{user.uid}:{user.gid}"
        edits: list[Edit] = []
        chowned: list[str] = []

        def inside(p: str) -> bool:
            return any(p == d or p.startswith(d.rstrip("/") + "/") for d in writable)

        for ins in body:
            if ins.keyword not in ("COPY", "ADD") or ins.flag("chown") is not None:
                continue
            words = ins.words
            if len(words) < 2:
                continue
            dest = resolve(wd.get(ins.index), words[-1])
            if dest is None or dest.startswith("$") or not inside(dest):
                continue
            kw_end = ins.logical.physical(0, len(ins.keyword_raw)).end
            # right after the keyword, before any other flag
            edits.append(Edit.insert(kw_end, f" --chown={owner}"))
            chowned.append(dest)
        # folders that exist before USER takes effect are handed over with a non-recursive chown
        lines: list[str] = []
        need_dirs = [d for d in writable if d in made or self._created_before(stage, d, anchor, wd)]
        if need_dirs:
            if not info.has_shell:
                return self._note(stage, "The image runs as root", f"{', '.join(need_dirs)} must become writable for a non-root user, and `{stage.base}` has no shell to chown it; set USER and ownership yourself.")
            exist = all(self._created_before(stage, d, anchor, wd, volumes=False) or d in made for d in need_dirs)
            mk = "" if exist else f"mkdir -p {' '.join(need_dirs)} && "
            lines.append(f"{kw('RUN')} {mk}chown {owner} {' '.join(need_dirs)}")
        lines.append(f"{kw('USER')} {user.name}")
        if user.create is not None:
            frm = stage.from_instruction
            edits.append(self._insert_after(text, frm, [f"{kw('RUN')} {user.create}"], nl))
            if anchor is frm:
                # both after FROM: one insertion
                edits.pop()
                lines.insert(0, f"{kw('RUN')} {user.create}")
        edits.append(self._insert_after(text, anchor, lines, nl))
        created = f" (created by a new RUN with uid {user.uid})" if user.create else f" (uid {user.uid}, part of `{stage.base}`)"
        where = "after the last RUN, so installs still run as root" if runs else "right after FROM, as the stage runs no commands"
        expl = f"The app now runs as `{user.name}`{created} instead of root; USER goes {where}."
        if writable:
            expl += f" {', '.join(writable)} {'is' if len(writable) == 1 else 'are'} owned by {user.name}"
            if chowned:
                expl += " and files copied there get --chown"
            expl += ", so the app can still write there."
        low_ports = [p for p in _ports(stage) if 0 < p < 1024]
        check = "Check that the app writes to no other folder"
        if problems:
            check = f"Note: {problems[0]}; check that the app does not write there"
        expl += f" {check}."
        if low_ports:
            expl += (
                f" It listens on port {low_ports[0]}, below 1024: Docker 20.10+ lets non-root processes bind it, "
                f"but Kubernetes and older engines do not, so move it to a port above 1024 there."
            )
        return self.change(f"Run as the non-root user {user.name}", expl, stage.from_instruction, edits, Safety.REVIEW)

    @staticmethod
    def _created_before(stage: Stage, d: str, anchor: Instruction, wd: dict[int, str | None], volumes: bool = True) -> bool:
        """Must ``d`` be made writable before USER? True when it exists (owned by root) at that point,
        or is a VOLUME (a new volume copies the image folder's owner). False when only a later WORKDIR
        or COPY --chown creates it: BuildKit then creates it for the user."""
        for ins in stage.body:
            if volumes and ins.keyword == "VOLUME" and any(resolve(wd.get(ins.index), w) == d for w in ins.words):
                return True
            if ins.index > anchor.index:
                continue
            if ins.keyword == "WORKDIR" and resolve(wd.get(ins.index), ins.args.strip()) == d:
                return True
            if ins.keyword in ("COPY", "ADD") and len(ins.words) >= 2:
                dest = resolve(wd.get(ins.index), ins.words[-1])
                if dest is not None and (dest == d or dest.startswith(d.rstrip("/") + "/")):
                    return True
            if ins.keyword == "RUN" and d in ins.args:
                return True
        return False

    @staticmethod
    def _insert_after(text: str, ins: Instruction, lines: list[str], nl: str) -> Edit:
        end = ins.full_range.end
        block = nl.join(lines)
        if text[end - 1 : end] == "\n":
            return Edit.insert(end, block + nl)
        return Edit.insert(end, nl + block)
