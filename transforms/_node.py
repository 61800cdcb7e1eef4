"""Node.js helpers shared by DO107 and DO108: install commands, lockfiles, build tools."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockeropt.rules import PassContext
from dockeropt.shell import Command, Word
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._hygiene import (
    command_cwd,
    context_source_at,
    eff_args,
    read_json,
    target_path,
)

# npm options that take a value as the next word
_NPM_VALUED = frozenset({
    "--prefix", "--registry", "--loglevel", "--cache", "--userconfig", "--omit", "--include", "--workspace",
    "-w", "--tag", "--install-strategy", "--only", "--audit-level", "--fetch-retries", "--fetch-timeout",
    "--network-timeout", "--mutex", "--modules-folder", "--cache-folder", "--store-dir", "--filter", "-F",
    "--reporter", "--dir", "-C", "--lockfile-dir", "--virtual-store-dir", "--use-store-server",
})


@dataclass
class NodeInstall:
    """An npm/yarn/pnpm command that installs a project's manifest dependencies."""

    tool: str  # npm | yarn | pnpm
    cmd: Command
    sub: Word | None  # the subcommand word (install, i, ci); None for bare ``yarn``
    flags: list[Word]
    positionals: list[Word]
    unknown: bool  # an expansion among the arguments

    @property
    def verb(self) -> str | None:
        return self.sub.value if self.sub is not None else None

    def flag_values(self) -> list[str]:
        return [w.value for w in self.flags if w.value is not None]

    def has(self, *names: str) -> bool:
        for v in self.flag_values():
            if v in names or v.split("=", 1)[0] in names:
                return True
        return False


def node_install(cmd: Command) -> NodeInstall | None:
    name = cmd.name
    if name not in ("npm", "yarn", "pnpm"):
        return None
    args = eff_args(cmd)
    sub: Word | None = None
    rest: tuple[Word, ...]
    if not args:
        if name != "yarn":
            return None
        rest = ()
    elif args[0].value is None:
        return None
    elif args[0].value.startswith("-"):
        if name != "yarn":
            return None
        rest = args  # "yarn --frozen-lockfile": bare yarn installs
    else:
        verb = args[0].value
        ok = {"npm": ("install", "i", "ci", "clean-install", "isntall"), "yarn": ("install",), "pnpm": ("install", "i")}[name]
        if verb not in ok:
            return None
        sub = args[0]
        rest = args[1:]
    flags: list[Word] = []
    pos: list[Word] = []
    unknown = False
    i = 0
    while i < len(rest):
        w = rest[i]
        v = w.value
        if v is None:
            unknown = True
            i += 1
            continue
        if v.startswith("-"):
            flags.append(w)
            if v in _NPM_VALUED and i + 1 < len(rest):
                flags.append(rest[i + 1])
                i += 2
                continue
        else:
            pos.append(w)
        i += 1
    return NodeInstall(name, cmd, sub, flags, pos, unknown)


# --------------------------------------------------------------------------- project files


@dataclass
class Project:
    """The package.json (and lockfiles) an install in ``cwd`` sees, as copied from the context."""

    cwd: str
    package_json: dict | None  # type: ignore[type-arg]
    package_json_path: str | None  # context path
    locks: dict[str, str]  # lockfile name in the image -> context path


LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml")


def project_at(doc: Dockerfile, stage: Stage, ins: Instruction, cmd: Command, ctx: PassContext) -> Project | None:
    """What earlier COPY/ADD instructions put in the command's folder; None when unknown."""
    if ctx.context is None:
        return None
    cwd = command_cwd(stage, ins, cmd)
    if cwd is None:
        return None
    pj_src = context_source_at(doc, stage, ins, target_path(cwd, "package.json"), ctx)
    pkg = read_json(ctx, pj_src) if pj_src else None
    locks: dict[str, str] = {}
    for name in (*LOCKFILES, ".yarnrc.yml", ".npmrc"):
        src = context_source_at(doc, stage, ins, target_path(cwd, name), ctx)
        if src is not None:
            locks[name] = src
    return Project(cwd, pkg, pj_src, locks)


def yarn_flavour(proj: Project | None, ctx: PassContext) -> str | None:
    """'classic', 'berry' or None (unknown / contradictory)."""
    if proj is None or ctx.context is None:
        return None
    votes: set[str] = set()
    pkg = proj.package_json or {}
    pm = pkg.get("packageManager")
    if isinstance(pm, str) and pm.startswith("yarn@"):
        m = re.match(r"yarn@(\d+)", pm)
        if m:
            votes.add("classic" if int(m.group(1)) < 2 else "berry")
    if ".yarnrc.yml" in proj.locks:
        votes.add("berry")
    lock = proj.locks.get("yarn.lock")
    if lock is not None:
        text = ctx.context.read_text(lock) or ""
        if "__metadata:" in text:
            votes.add("berry")
        elif "yarn lockfile v1" in text:
            votes.add("classic")
    if len(votes) != 1:
        return None
    return votes.pop()


# --------------------------------------------------------------------------- build tools

# binary -> packages that provide it
_BIN_PACKAGES: dict[str, tuple[str, ...]] = {
    "tsc": ("typescript",), "next": ("next",), "vite": ("vite",), "webpack": ("webpack-cli", "webpack"),
    "nest": ("@nestjs/cli",), "ng": ("@angular/cli",), "react-scripts": ("react-scripts",),
    "babel": ("@babel/cli",), "tsup": ("tsup",), "rollup": ("rollup",), "esbuild": ("esbuild",),
    "parcel": ("parcel",), "vue-cli-service": ("@vue/cli-service",), "gatsby": ("gatsby",),
    "nuxt": ("nuxt",), "nuxi": ("nuxi", "nuxt"), "astro": ("astro",), "remix": ("@remix-run/dev",),
    "svelte-kit": ("@sveltejs/kit",), "tailwindcss": ("tailwindcss",), "postcss": ("postcss-cli",),
    "ts-node": ("ts-node",), "tsx": ("tsx",), "swc": ("@swc/cli",), "rimraf": ("rimraf",),
    "cross-env": ("cross-env",), "run-s": ("npm-run-all", "npm-run-all2"), "run-p": ("npm-run-all", "npm-run-all2"),
    "npm-run-all": ("npm-run-all", "npm-run-all2"), "ncc": ("@vercel/ncc",), "prisma": ("prisma",),
    "gulp": ("gulp", "gulp-cli"), "grunt": ("grunt", "grunt-cli"), "copyfiles": ("copyfiles",),
    "concurrently": ("concurrently",), "shx": ("shx",), "tsc-alias": ("tsc-alias",), "vue-tsc": ("vue-tsc",),
    "eslint": ("eslint",), "jest": ("jest",), "vitest": ("vitest",), "mocha": ("mocha",),
}
# tools that are build steps even without package.json evidence (for notes)
BUILD_TOOLS = frozenset({"tsc", "next", "vite", "webpack", "nest", "ng", "react-scripts", "tsup", "rollup",
                         "parcel", "vue-cli-service", "gatsby", "nuxt", "nuxi", "astro", "remix", "svelte-kit",
                         "babel", "esbuild", "swc", "ncc", "vue-tsc"})


@dataclass
class BuildStep:
    cmd: Command
    ins: Instruction
    label: str  # how it is written, e.g. "npm run build"
    tool: str | None  # the binary that needs a devDependency (evidence) or looks like a build tool
    package: str | None  # the devDependency that provides it (None: no evidence)


def _script_tools(script: str, scripts: dict, depth: int = 0) -> list[str]:  # type: ignore[type-arg]
    """First words of the commands in an npm script (following ``npm run`` one level deep)."""
    tools: list[str] = []
    for seg in re.split(r"&&|\|\||[;|&]", script):
        words = seg.strip().split()
        while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in ("npx", "cross-env", "env", "exec")):
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[1:]
        if not words:
            continue
        w = words[0].rsplit("/", 1)[-1]
        if w in ("npm", "yarn", "pnpm") and depth < 2:
            rest = [x for x in words[1:] if not x.startswith("-")]
            if rest and rest[0] in ("run", "run-script"):
                rest = rest[1:]
            if rest and isinstance(scripts.get(rest[0]), str):
                tools.extend(_script_tools(scripts[rest[0]], scripts, depth + 1))
            continue
        tools.append(w)
    return tools


def build_step(cmd: Command, ins: Instruction, pkg: dict | None) -> BuildStep | None:  # type: ignore[type-arg]
    """A command that runs a project build (npm run X, npx tsc, vite build, ...)."""
    name = cmd.name
    args = [a for a in cmd.args]
    if name is None:
        return None
    scripts = (pkg or {}).get("scripts") or {}
    if not isinstance(scripts, dict):
        scripts = {}
    label = " ".join(w.text for w in cmd.effective()[:3])
    tools: list[str] = []
    script: str | None = None
    if name in ("npm", "yarn", "pnpm"):
        rest = [a for a in args if a is None or not a.startswith("-")]
        if not rest or rest[0] is None:
            return None
        if rest[0] in ("run", "run-script"):
            if len(rest) < 2 or rest[1] is None:
                return None
            script = rest[1]
        elif name != "npm" and rest[0] in ("exec", "dlx") and len(rest) > 1 and rest[1] is not None:
            tools = [rest[1]]
        elif name != "npm" and rest[0] not in ("install", "add", "remove", "ci", "i", "prune", "cache", "config", "set", "workspaces", "why", "list", "info"):
            script = rest[0]  # "yarn build" / "pnpm build"
        else:
            return None
        if script is not None:
            body = scripts.get(script)
            pre = scripts.get("pre" + script)
            if isinstance(pre, str):
                tools.extend(_script_tools(pre, scripts))
            if isinstance(body, str):
                tools.extend(_script_tools(body, scripts))
            elif pkg is None and script == "build":
                tools = ["build"]
    elif name == "npx":
        rest = [a for a in args if a is None or not a.startswith("-")]
        if not rest or rest[0] is None:
            return None
        tools = [rest[0].rsplit("/", 1)[-1]]
    elif name in _BIN_PACKAGES:
        tools = [name]
    else:
        return None
    if pkg is not None:
        dev = pkg.get("devDependencies") or {}
        deps = pkg.get("dependencies") or {}
        if isinstance(dev, dict) and isinstance(deps, dict):
            for t in tools:
                for p in (*_BIN_PACKAGES.get(t, ()), t):
                    if p in dev and p not in deps:
                        return BuildStep(cmd, ins, label, t, p)
        return None
    for t in tools:
        if t in BUILD_TOOLS or t == "build":
            return BuildStep(cmd, ins, label, t if t != "build" else None, None)
    return None
