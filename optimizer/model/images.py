"""What a stage's base image brings before the Dockerfile's first instruction runs.

The one place that turns an image reference into the facts passes need: the
catalog's :class:`~dockeropt.catalog.images.ImageInfo`, the image's own
environment, users (with uid, gid and home), default user, WORKDIR and shell.
Everything comes from the catalogs (``images.json``, ``package_managers.json``);
an image the catalogs do not know gives ``known=False`` facts, and passes
must then decline rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from dockeropt.catalog import catalog
from dockeropt.catalog.images import ImageInfo, ImageRef, account_home, default_workdir, lookup, parse_image


@dataclass(frozen=True, slots=True)
class Account:
    """A user an image is known to have."""

    name: str
    uid: int | None
    gid: int | None
    home: str | None


@dataclass(frozen=True)
class BaseImage:
    """The facts of one external base image (``scratch`` included)."""

    text: str  # the reference as resolved (ARG defaults applied)
    ref: ImageRef | None  # None for scratch and unparseable references
    info: ImageInfo | None  # None when the catalog does not know the image
    scratch: bool = False
    env: dict[str, str] = field(default_factory=dict)  # the image's own ENV (what the catalog knows)
    accounts: dict[str, Account] = field(default_factory=dict)
    default_user: str | None = None  # None: unknown
    workdir: str | None = "/"  # the image's own WORKDIR; None: unknown
    env_known: bool = True  # False: the image may set variables the catalog does not list

    @property
    def known(self) -> bool:
        return self.scratch or self.info is not None

    @property
    def family(self) -> str | None:
        return self.info.family if self.info else None

    @property
    def has_shell(self) -> bool | None:
        if self.scratch:
            return False
        return self.info.has_shell if self.info else None

    def account(self, name_or_uid: str) -> Account | None:
        if name_or_uid in self.accounts:
            return self.accounts[name_or_uid]
        if name_or_uid.isdigit():
            uid = int(name_or_uid)
            for a in self.accounts.values():
                if a.uid == uid:
                    return a
        return None


@lru_cache(maxsize=512)
def base_image(text: str) -> BaseImage:
    """Facts of the image ``text`` names (memoised: references repeat across files and rounds)."""
    if text.strip().lower() == "scratch":
        return BaseImage(text, None, None, scratch=True, default_user="root", workdir="/", accounts={
            "root": Account("root", 0, 0, "/root")})
    ref = parse_image(text)
    info = lookup(text) if ref is not None else None
    cat = catalog()
    env = dict(cat.image_env(text))
    extra = cat.image_users(text)
    accounts: dict[str, Account] = {}
    if info is not None:
        for name, uid in info.users.items():
            accounts[name] = Account(name, uid, uid, account_home(name))
    for name, spec in extra.items():
        accounts[name] = Account(name, spec.get("uid"), spec.get("gid"), spec.get("home"))
    accounts.setdefault("root", Account("root", 0, 0, "/root"))
    default = cat.image_default_user(text)
    if default is None and info is not None:
        default = info.default_user
    workdir: str | None = "/"
    if info is not None:
        workdir = default_workdir(info)
    elif ref is not None:
        workdir = None
    return BaseImage(
        text, ref, info, env=env, accounts=accounts if (info is not None or extra) else {"root": accounts["root"]},
        default_user=default, workdir=workdir, env_known=info is not None,
    )

