# Stand-in for php:8.2-fpm: Debian bookworm's php8.2-fpm and php8.2-cli on the
# lab's debian:bookworm, configured like the official image: FastCGI on port
# 9000 (all interfaces), php-fpm in the foreground, logs to stderr, clear_env =
# no, WORKDIR /var/www/html (owned by www-data), `php-fpm` and `php` on PATH.
FROM debian:bookworm
RUN --mount=type=cache,id=dockeropt-lab-apt-archives,target=/var/cache/apt/archives,sharing=locked \
    --mount=type=cache,id=dockeropt-lab-apt-lists,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=bind,source=common,target=/mnt \
    set -e; \
    sh /mnt/apt-install.sh php8.2-fpm php8.2-cli ca-certificates; \
    ln -s /usr/sbin/php-fpm8.2 /usr/local/sbin/php-fpm; \
    mkdir -p /run/php /var/www/html /usr/local/etc; \
    ln -s /etc/php/8.2/fpm/pool.d /usr/local/etc/php-fpm.d; \
    chown www-data:www-data /var/www/html; \
    rm -f /var/www/html/index.html; \
    php -v
COPY php/docker.conf php/zz-docker.conf /etc/php/8.2/fpm/pool.d/
RUN php-fpm -t
WORKDIR /var/www/html
STOPSIGNAL SIGQUIT
EXPOSE 9000
CMD ["php-fpm"]
