# Stand-in for eclipse-temurin:17-jdk (PACKAGE=openjdk-17-jdk-headless) and
# eclipse-temurin:17-jre (PACKAGE=openjdk-17-jre-headless) from Debian's
# OpenJDK 17. JAVA_HOME=/opt/java/openjdk like the official images.
FROM debian:bookworm
ARG PACKAGE=openjdk-17-jdk-headless
RUN --mount=type=cache,id=dockeropt-lab-apt-archives,target=/var/cache/apt/archives,sharing=locked \
    --mount=type=cache,id=dockeropt-lab-apt-lists,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=bind,source=common,target=/mnt \
    set -e; \
    sh /mnt/apt-install.sh $PACKAGE ca-certificates ca-certificates-java; \
    mkdir -p /opt/java; \
    ln -s /usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture) /opt/java/openjdk; \
    java -version
ENV JAVA_HOME=/opt/java/openjdk
ENV PATH=$JAVA_HOME/bin:$PATH
