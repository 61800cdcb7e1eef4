#!/bin/bash
# Capture one packet on the loopback interface (needs root's CAP_NET_RAW), the
# kind of thing this toolbox exists for, and trace a process with strace.
set -u
timeout 10 tcpdump -ni lo -c 1 'tcp port 9' &
pid=$!
sleep 2
(exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null
wait "$pid"
rc=$?
strace -f -e trace=execve -o /dev/null true && echo "strace ok"
echo "capture exit $rc"
exit "$rc"
