"""DO201 for Java builds (javac/jar, Maven, Gradle): the jar on a JRE or distroless java.

A JDK image that only runs a jar needs no build stage: DO202 swaps it for the
JRE. Here the jar is built in the stage; the runtime gets the jar (the
``java -jar`` of the start command), and the app folder from the build
context when the source reads files beside the jar.
"""

from __future__ import annotations

import posixpath
import re

from dockeropt.catalog.images import distroless_for, jre_for, lookup, parse_image
from dockeropt.model import ecosystems as eco
from dockeropt.model.runtime import launch_words

from ._runtime_common import (
    app_folder_or_context,
    check_user,
    runtime_files,
    runtime_packages,
    start_programs,
    start_tools,
)
from ._runtime_stage_analysis import Blocked, StageRead
from ._runtime_stage_edit import Plan


def runtime_jre(base: str) -> tuple[str | None, str | None]:
    """(JRE image, Java major) for a JDK image, or for a Maven/Gradle image by the JDK its tag names."""
    jre = jre_for(base)
    info = lookup(base)
    if jre is not None:
        return jre, info.major if info else None
    ref = parse_image(base)
    if ref is None or ref.tag is None:
        return None, None
    name = ref.repository.rsplit("/", 1)[-1].lower()
    if name not in eco.spec("java").get("build_images", {}):
        return None, None
    nums = re.findall(r"(?:temurin|jdk|openjdk|corretto|amazoncorretto)-?(\d+)", ref.tag)
    if not nums:
        return None, None
    cand = jre_for(f"eclipse-temurin:{nums[-1]}-jdk")
    return cand, nums[-1]


def jar_of(argv: tuple[str, ...] | list[str] | None) -> str | None:
    if not argv or posixpath.basename(argv[0]) != "java" or "-jar" not in argv:
        return None
    i = list(argv).index("-jar")
    return argv[i + 1] if i + 1 < len(argv) else None


def plan(r: StageRead) -> Plan:
    spec = eco.spec("java")
    builds = [a for a in r.acts if a.action.verb == "build" or a.action.tool in spec.get("build_tools", ())]
    if not builds:
        raise Blocked("builds nothing dockeropt recognises (javac, jar, Maven, Gradle)", r.stage.from_instruction)
    jre, major = runtime_jre(r.base)
    if jre is None:
        raise Blocked(f"builds on {r.base}, and dockeropt knows no JRE image for it", r.stage.from_instruction)
    st = r.start
    for ins in (st.entrypoint, st.cmd, r.healthcheck):
        tool = next((t for t in (posixpath.basename(c) for c in start_programs(ins)) if t in spec["jdk_only_programs"]), None) if ins else None
        if ins is not None and tool is not None:
            raise Blocked(f"runs `{tool}`, a JDK tool the JRE does not have", ins,
                          "Check the health through an HTTP route of the app instead" if ins.keyword == "HEALTHCHECK" else f"Start the app without `{tool}`")
    argv = st.argv
    if argv is None and (st.cmd is not None and not st.cmd.json):
        argv, _ = launch_words(st.cmd)
    jar = jar_of(argv)
    if argv and posixpath.basename(argv[0]) in ("mvn", "mvnw", "./mvnw", "gradle", "gradlew", "./gradlew"):
        raise Blocked(f"starts through `{argv[0]}`, a build tool the runtime would not have", st.cmd or st.entrypoint,
                      "Start the app with `java -jar`")
    if jar is None:
        raise Blocked("does not start with `java -jar`, so dockeropt cannot tell which files the app needs", st.cmd or st.entrypoint,
                      "Start the app with `java -jar <file>`")
    if "$" in jar:
        raise Blocked("names the jar through a variable", st.cmd or st.entrypoint)
    path = posixpath.normpath(jar if jar.startswith("/") else posixpath.join(r.workdir or "/", jar))
    if "*" in posixpath.dirname(path):
        raise Blocked("names the jar's folder with a wildcard", st.cmd or st.entrypoint)
    p = Plan(base=jre, shell=True, pm=lookup(jre).package_manager if lookup(jre) else "apt", safety=r.safety)
    p.leaves = ["the JDK (javac, jlink)", *(["Maven/Gradle and their caches"] if any(a.action.tool in ("maven", "gradle") for a in builds) else []),
                "the sources"]
    runtime_packages(r, p)
    dest = posixpath.dirname(path) + "/" if "*" in path else path
    jar_copy = f"COPY --from={{build}} {path} {dest}"
    p.copies.append(jar_copy)
    rel = r.context_dir(r.workdir or "/")
    why = runtime_files(r, "java", rel, (".java", ".kt"))
    if why is not None:
        app_folder_or_context(r, p, [jar_copy], why)
        p.leaves = [x for x in p.leaves if x != "the sources"]  # the copy of the app folder brings them along
    p.checks.append(f"only {jar} reaches the runtime; the app must not need the JDK ({', '.join(spec['jdk_only_programs'][:3])})")
    argv_cmd = tuple(argv) if argv is not None and st.cmd is not None else None
    dl = distroless_for("java", major, False) if major else None
    if (dl is not None and r.context is not None and st.entrypoint is None and argv_cmd is not None and list(argv_cmd[:2]) == ["java", "-jar"]
            and "*" not in jar and r.healthcheck is None and (r.user is None or r.user.is_root is True) and not r.user_runs
            and not p.packages):
        p.base, p.shell, p.pm = dl, False, None
        p.cmd = list(argv_cmd[2:])
        p.leaves.insert(0, "the shell")
        p.checks.append("distroless java runs `java -jar` with the CMD as its arguments; the app runs without a shell")
    p.drop_env = eco.build_only_env("java")
    start_tools(r, p, None)
    check_user(r, p)
    return p
