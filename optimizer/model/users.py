"""Users: who an instruction runs as, and the accounts RUNs create.

``USER`` takes ``name``, ``uid``, ``name:group`` or ``uid:gid``. Its uid, gid
and home are resolved against the accounts the base image is known to carry
(catalog) and those earlier RUNs create with ``useradd``/``adduser``/
``groupadd``/``addgroup``. Anything dockeropt cannot resolve stays ``None``:
passes decide with it only when it is known.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockeropt.model.images import Account
from dockeropt.shell import Command, Script

# options of useradd / adduser (Debian and busybox) that take a value
_VALUED = {
    "-u", "--uid", "-d", "--home-dir", "--home", "-h", "-g", "--gid", "-G", "--groups", "-s", "--shell",
    "-c", "--comment", "-k", "--skel", "-e", "--expiredate", "-f", "--inactive", "-K", "--key", "--ingroup", "-p",
    "--password", "-b", "--base-dir", "--gecos", "--firstuid", "--lastuid", "-R", "--root", "-P", "--prefix",
}


@dataclass(frozen=True, slots=True)
class User:
    """The user an instruction runs as.

    ``spec`` is the USER value as written (expanded), None for the base image's
    default. ``name``/``uid``/``gid``/``home`` are None when not known.
    """

    spec: str | None
    name: str | None
    uid: int | None
    gid: int | None
    home: str | None

    @property
    def is_root(self) -> bool | None:
        """True/False when known; None when dockeropt cannot tell."""
        if self.uid is not None:
            return self.uid == 0
        if self.name == "root":
            return True
        if self.name is not None:
            return False
        return None

    @property
    def numeric(self) -> str | None:
        """``uid:gid`` (or ``uid``) when both are known numbers."""
        if self.uid is None:
            return None
        return f"{self.uid}:{self.gid}" if self.gid is not None else str(self.uid)

    @property
    def known(self) -> bool:
        return self.uid is not None


ROOT = User("root", "root", 0, 0, "/root")
UNKNOWN = User(None, None, None, None, None)


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    """An account a RUN creates."""

    name: str
    uid: int | None
    gid: int | None
    home: str | None
    system: bool  # --system / -r / -S
    instruction: int  # index of the RUN


def accounts_created(script: Script, instruction: int) -> tuple[list[CreatedAccount], dict[str, int | None]]:
    """Users and groups ``script`` creates: (users, {group name: gid})."""
    users: list[CreatedAccount] = []
    groups: dict[str, int | None] = {}
    for cmd in script.commands:
        if cmd.name in ("groupadd", "addgroup"):
            opts, pos = _options(cmd)
            if cmd.name == "addgroup" and len(pos) == 2 and pos[0] is not None and pos[1] is not None and "-S" not in opts and "--system" not in opts:
                # Debian `addgroup user group` adds a user to a group
                continue
            gid_s = opts.get("-g", opts.get("--gid"))
            if pos and pos[-1] is not None:
                groups[pos[-1]] = int(gid_s) if gid_s is not None and gid_s.isdigit() else None
            continue
        if cmd.name not in ("useradd", "adduser"):
            continue
        opts, pos = _options(cmd)
        if not pos or pos[0] is None:
            continue
        uid_s = opts.get("-u", opts.get("--uid"))
        home = opts.get("-d", opts.get("--home-dir", opts.get("--home")))
        if cmd.name == "adduser" and home is None:
            home = opts.get("-h")
        gid_s = opts.get("-g", opts.get("--gid"))
        if cmd.name == "adduser" and gid_s is None:
            gid_s = opts.get("-G", opts.get("--ingroup"))
        name = pos[-1] if cmd.name == "adduser" and len(pos) == 2 and "-G" not in opts else pos[0]
        if name is None:
            continue
        uid = int(uid_s) if uid_s is not None and uid_s.isdigit() else None
        gid: int | None = None
        if gid_s is not None:
            gid = int(gid_s) if gid_s.isdigit() else groups.get(gid_s)
        elif name in groups:
            gid = groups[name]
        elif uid is not None and not ("-N" in opts or "--no-user-group" in opts):
            gid = None  # the user's own group: same number only when free; not assumed
        system = any(o in opts for o in ("-r", "--system", "-S"))
        if home is None:
            home = None if system and cmd.name == "useradd" else f"/home/{name}"
        users.append(CreatedAccount(name, uid, gid, home, system, instruction))
    return users, groups


def _options(cmd: Command) -> tuple[dict[str, str | None], list[str | None]]:
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
            elif a in _VALUED and i + 1 < len(args):
                opts[a] = args[i + 1]
                i += 1
            else:
                opts[a] = ""
            i += 1
            continue
        pos.append(a)
        i += 1
    return opts, pos


def resolve_user(spec: str | None, accounts: dict[str, Account], default: str | None) -> User:
    """The :class:`User` for a USER value (None: the image default) given the accounts known to exist."""
    if spec is None:
        if default is None:
            return UNKNOWN
        if default in ("root", "0"):
            return ROOT
        u = resolve_user(default, accounts, None)
        return User(None, u.name, u.uid, u.gid, u.home)
    if "$" in spec:
        return User(spec, None, None, None, None)
    name, _, group = spec.partition(":")
    gid: int | None = int(group) if group.isdigit() else None
    if group and gid is None:
        g = accounts.get(group)
        gid = g.gid if g is not None else None
    if name in ("root", "0"):
        return User(spec, "root", 0, gid if group else 0, "/root")
    acct = accounts.get(name)
    if acct is None and name.isdigit():
        acct = next((a for a in accounts.values() if a.uid == int(name)), None)
        if acct is None:
            return User(spec, None, int(name), gid, None)
    if acct is None:
        return User(spec, name, None, gid, None)
    return User(spec, acct.name, acct.uid, gid if group else acct.gid, acct.home)
