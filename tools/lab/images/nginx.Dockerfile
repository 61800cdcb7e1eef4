# Stand-in for nginx:1.22 (the official image is nginx.org's build on
# debian:bookworm-slim): Debian bookworm's nginx 1.22 on the lab's
# debian:bookworm-slim, laid out like the official image: user nginx (101),
# /etc/nginx/conf.d/default.conf serving /usr/share/nginx/html on port 80,
# logs to stdout/stderr, /docker-entrypoint.sh running /docker-entrypoint.d/*.sh
# (envsubst of /etc/nginx/templates/*.template into /etc/nginx/conf.d/).
FROM debian:bookworm-slim
RUN --mount=type=cache,id=dockeropt-lab-apt-archives,target=/var/cache/apt/archives,sharing=locked \
    --mount=type=cache,id=dockeropt-lab-apt-lists,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=bind,source=common,target=/mnt \
    set -e; \
    groupadd --system --gid 101 nginx; \
    useradd --system --gid nginx --no-create-home --home /nonexistent --shell /bin/false --uid 101 nginx; \
    sh /mnt/apt-install.sh nginx gettext-base; \
    rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available /var/www/html; \
    sed -i 's/^user www-data;/user nginx;/; s#include /etc/nginx/sites-enabled/\*;##' /etc/nginx/nginx.conf; \
    mkdir -p /usr/share/nginx/html /docker-entrypoint.d /var/cache/nginx; \
    ln -sf /dev/stdout /var/log/nginx/access.log; ln -sf /dev/stderr /var/log/nginx/error.log; \
    nginx -v
COPY nginx/default.conf /etc/nginx/conf.d/default.conf
COPY nginx/index.html nginx/50x.html /usr/share/nginx/html/
COPY nginx/docker-entrypoint.sh /docker-entrypoint.sh
COPY nginx/20-envsubst-on-templates.sh /docker-entrypoint.d/
RUN chmod 755 /docker-entrypoint.sh /docker-entrypoint.d/*.sh && nginx -t
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
