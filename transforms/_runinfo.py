"""Facts the RUN-script passes (DO102-DO104) share: stage families, the env,
user, HOME and uid in effect, and apt list dependencies between RUNs.

Not a pass (the leading underscore keeps it out of pass discovery).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from dockeropt.analysis import users
from dockeropt.catalog import catalog
from dockeropt.shell import Script, analysis_script
from dockeropt.syntax import Dockerfile, Instruction, Stage

# --------------------------------------------------------------------------- stage families


def parent_stage(doc: Dockerfile, stage: Stage) -> Stage | None:
    """The earlier stage this stage is built FROM, if any."""
    if "$" in stage.base:
        return None
    st = doc.stage_named(stage.base) if not stage.base.isdigit() else None
    return st if st is not None and st.index < stage.index else None


def ancestors(doc: Dockerfile, stage: Stage) -> list[Stage]:
    """Stages ``stage`` builds on, nearest first."""
    out: list[Stage] = []
    cur = parent_stage(doc, stage)
    while cur is not None and cur not in out:
        out.append(cur)
        cur = parent_stage(doc, cur)
    return out


def descendants(doc: Dockerfile, stage: Stage) -> list[Stage]:
    """Stages built FROM ``stage``, directly or through others."""
    out: list[Stage] = []
    for st in doc.stages[stage.index + 1 :]:
        if stage in ancestors(doc, st):
            out.append(st)
    return out


def root_base(doc: Dockerfile, stage: Stage) -> str:
    chain = ancestors(doc, stage)
    return (chain[-1] if chain else stage).base


def later_runs(doc: Dockerfile, stage: Stage, ins: Instruction) -> list[Instruction]:
    """RUNs executed on top of ``ins``'s result: later in its stage, and in stages built FROM it."""
    out = [i for i in stage.body if i.index > ins.index and i.keyword == "RUN"]
    for st in descendants(doc, stage):
        out.extend(i for i in st.body if i.keyword == "RUN")
    return out


# --------------------------------------------------------------------------- env

Env = dict[str, "str | None"]


def _env_pairs(ins: Instruction) -> list[tuple[str, str | None]] | None:
    try:
        words = shlex.split(ins.args, posix=True)
    except ValueError:
        return None
    raw = ins.args
    if not words:
        return []
    if ins.keyword == "ENV" and "=" not in words[0]:
        value = raw.split(None, 1)[1] if len(raw.split(None, 1)) > 1 else ""
        return [(words[0], None if "$" in value else value.strip())]
    out: list[tuple[str, str | None]] = []
    for w in words:
        name, eq, value = w.partition("=")
        if ins.keyword == "ARG":
            # a build arg can be overridden with --build-arg: its value is not known
            out.append((name, None))
            continue
        if not eq:
            return None
        out.append((name, None if "$" in value else value))
    return out


def env_at(doc: Dockerfile, stage: Stage, ins: Instruction) -> Env:
    """Variables in effect when ``ins`` runs (None: set to a value dockeropt cannot know).

    The key ``"?"`` marks an ENV/ARG line that could not be read.
    """
    env: Env = dict(catalog().image_env(root_base(doc, stage)))
    chain = [*reversed(ancestors(doc, stage)), stage]
    for st in chain:
        for i in st.body:
            if st is stage and i.index >= ins.index:
                break
            if i.keyword in ("ENV", "ARG"):
                pairs = _env_pairs(i)
                if pairs is None:
                    env["?"] = None
                    continue
                for k, v in pairs:
                    if i.keyword == "ARG" and k in env and env[k] is not None:
                        continue  # ARG does not override an ENV of the same name
                    env[k] = v
    return env


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class User:
    name: str
    uid: int | None  # None: unknown
    gid: int | None
    home: str | None  # None: unknown

    @property
    def root(self) -> bool:
        return self.uid == 0


ROOT = User("root", 0, 0, "/root")

_USERADD_VALUE = {"-u", "--uid", "-d", "--home-dir", "--home", "-h", "-g", "--gid", "-G", "--groups", "-s", "--shell", "-c", "--comment", "-k", "--skel", "-e", "-f", "-K", "--ingroup", "-p"}


def _created_users(doc: Dockerfile, stages: list[Stage], upto: Instruction) -> dict[str, User]:
    """Users made by useradd/adduser in ``stages`` before ``upto``."""
    out: dict[str, User] = {}
    for st in stages:
        for ins in st.body:
            if ins.index >= upto.index:
                break
            if ins.keyword != "RUN":
                continue
            script = analysis_script(ins, doc.text)
            if script is None or not script.ok:
                continue
            for cmd in script.commands:
                if cmd.name not in ("useradd", "adduser"):
                    continue
                args = cmd.args
                opts: dict[str, str | None] = {}
                pos: list[str | None] = []
                i = 0
                while i < len(args):
                    a = args[i]
                    if a is not None and a.startswith("-") and len(a) > 1:
                        if "=" in a:
                            k, _, v = a.partition("=")
                            opts[k] = v
                        elif a in _USERADD_VALUE and i + 1 < len(args):
                            opts[a] = args[i + 1]
                            i += 1
                        else:
                            opts[a] = ""
                        i += 1
                        continue
                    pos.append(a)
                    i += 1
                if not pos or pos[0] is None:
                    continue
                # busybox adduser: -h home, -u uid; Debian adduser: --home, --uid; useradd: -d, -u
                uid_s = opts.get("-u", opts.get("--uid"))
                home = opts.get("-d", opts.get("--home-dir", opts.get("--home")))
                if cmd.name == "adduser" and home is None:
                    home = opts.get("-h")
                uid = int(uid_s) if uid_s is not None and uid_s.isdigit() else None
                gid_s = opts.get("-g", opts.get("--gid"))
                gid = int(gid_s) if gid_s is not None and gid_s.isdigit() else None
                name = pos[-1] if cmd.name == "adduser" and len(pos) == 2 and "-G" not in opts else pos[0]
                if name is None:
                    continue
                out[name] = User(name, uid, gid, home if home else f"/home/{name}")
    return out


def user_at(doc: Dockerfile, stage: Stage, ins: Instruction) -> User | None:
    """The user a RUN runs as, with uid and HOME when known; None = unknown."""
    chain = [stage, *ancestors(doc, stage)]
    spec: str | None = None
    for st in chain:
        if st is stage:
            spec = users(st).get(ins.index)
        else:
            last = st.instructions[-1]
            spec = users(st).get(last.index)
            if last.keyword == "USER":
                spec = last.args.strip() or spec
        if spec is not None:
            break
    if spec is None:
        default = catalog().image_default_user(root_base(doc, stage))
        if default is None:
            return None
        spec = default
    if "$" in spec:
        return None
    name, _, group = spec.partition(":")
    gid = int(group) if group.isdigit() else None
    if name in ("root", "0"):
        return ROOT if not group or group in ("0", "root") else User("root", 0, gid, "/root")
    known = dict(catalog().image_users(root_base(doc, stage)))
    created = _created_users(doc, [*reversed(chain[1:]), stage], ins)
    if name.isdigit():
        uid = int(name)
        for u in created.values():
            if u.uid == uid:
                return User(u.name, uid, gid if gid is not None else u.gid, u.home)
        for uname, info in known.items():
            if info.get("uid") == uid:
                return User(uname, uid, gid if gid is not None else info.get("gid"), info.get("home"))
        return User(name, uid, gid, None)
    if name in created:
        u = created[name]
        return User(name, u.uid, gid if gid is not None else u.gid, u.home)
    if name in known:
        info = known[name]
        return User(name, info.get("uid"), gid if gid is not None else info.get("gid"), info.get("home"))
    return User(name, None, gid, None)


def home_for(user: User, env: Env) -> str | None:
    if "HOME" in env:
        return env["HOME"]
    return user.home


# --------------------------------------------------------------------------- apt lists


def apt_installs_without_update(script: Script) -> bool:
    """Does the script install apt packages without an ``apt-get update`` earlier in it?"""
    updated = False
    for cmd in script.commands:
        inv = _apt(cmd)
        if inv is None:
            continue
        if inv.updates_index:
            updated = True
        elif inv.installs and not updated and not _installs_only_local_files(inv):
            return True
    return False


def _installs_only_local_files(inv) -> bool:  # type: ignore[no-untyped-def]
    pkgs = [w.value for w in inv.rest if w.value is None or not w.value.startswith("-")]
    return bool(pkgs) and all(p is not None and (p.startswith("/") or p.startswith("./")) and p.endswith(".deb") for p in pkgs)


def _apt(cmd):  # type: ignore[no-untyped-def]
    for inv in catalog().match(cmd):
        if inv.manager.id == "apt":
            return inv
    return None


_APT_WORD = re.compile(r"\bapt(-get)?\b")


def later_apt_needs_lists(doc: Dockerfile, stage: Stage, ins: Instruction) -> Instruction | None:
    """A later RUN (this stage or one built FROM it) that installs apt packages
    without its own ``apt-get update``, relying on lists left in the image; or a
    later RUN dockeropt cannot read that mentions apt. None when there is none."""
    for later in later_runs(doc, stage, ins):
        script = analysis_script(later, doc.text)
        if script is None or not script.ok:
            if _APT_WORD.search(later.text):
                return later
            continue
        if apt_installs_without_update(script):
            return later
    return None


def mentions_apt_install(script: Script) -> bool:
    return any((inv := _apt(c)) is not None and inv.installs for c in script.commands)
