#!/bin/sh
# like the official image: /etc/nginx/templates/X.conf.template -> /etc/nginx/conf.d/X.conf,
# substituting only variables defined in the environment
set -e
tdir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
odir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
[ -d "$tdir" ] || exit 0
defined=$(printf '${%s} ' $(env | cut -d= -f1))
find "$tdir" -follow -type f -name "*$suffix" | while read -r t; do
    rel=${t#"$tdir"/}
    out="$odir/${rel%"$suffix"}"
    mkdir -p "$(dirname "$out")"
    envsubst "$defined" <"$t" >"$out"
done
