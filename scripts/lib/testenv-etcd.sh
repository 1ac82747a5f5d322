# shellcheck shell=bash
# A private three-member etcd 3.4 cluster for the fleet tests (issue 16), on free
# loopback ports, TLS everywhere with client-certificate authentication (clients and
# peers), its own test CA. Sourced by scripts/lib/testenv.sh.
#
#   testenv_etcd_up DIR       create DIR/etcd/ (pki, member data dirs, run scripts), start
#                             the three members, wait until the cluster answers
#   testenv_etcd_down DIR     stop the members (keeps the files; testenv_down removes DIR)
#   testenv_etcd_env DIR      prints the export lines for env.sh (nothing if not up)
#
# Layout of DIR/etcd: pki/{etcd-ca,member,client,client-b}.{crt,key}, m1..m3/ (data),
# m1..m3.run (the member's full command line: tests stop a member by its pid file and
# start it again with its run script), m1..m3.pid, m1..m3.log, endpoints (client URLs,
# comma separated). Members run as the current user (etcd does not need its own user).

TESTENV_ETCD_MEMBERS=(m1 m2 m3)

# _testenv_etcd_pki PKI: test CA, one certificate for all members (serverAuth+clientAuth,
# SAN 127.0.0.1/localhost: peers present it as clients too), two client certificates.
_testenv_etcd_pki() {
  local pki="$1" name
  mkdir -p "$pki"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/etcd-ca.key" 2>/dev/null)
  openssl req -new -x509 -sha256 -days 3650 -key "$pki/etcd-ca.key" -subj "/CN=segproxy test etcd CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$pki/etcd-ca.crt" 2>/dev/null || return 1
  _testenv_etcd_leaf "$pki" member "/CN=etcd-member" "serverAuth,clientAuth" \
    "IP:127.0.0.1,DNS:localhost" || return 1
  _testenv_etcd_leaf "$pki" client "/CN=proxy-a" "clientAuth" "" || return 1
  _testenv_etcd_leaf "$pki" client-b "/CN=proxy-b" "clientAuth" "" || return 1
  for name in etcd-ca member client client-b; do
    chmod 0600 "$pki/$name.key"
    chmod 0644 "$pki/$name.crt"
  done
  rm -f "$pki/etcd-ca.srl"
}

# _testenv_etcd_leaf PKI NAME SUBJECT EKU SAN
_testenv_etcd_leaf() {
  local pki="$1" name="$2" subject="$3" eku="$4" san="$5" ext
  ext="$pki/$name.ext"
  {
    printf 'basicConstraints=critical,CA:FALSE\n'
    printf 'keyUsage=critical,digitalSignature,keyAgreement\n'
    printf 'extendedKeyUsage=%s\n' "$eku"
    [[ -z "$san" ]] || printf 'subjectAltName=%s\n' "$san"
  } >"$ext"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null)
  openssl req -new -sha256 -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null &&
    openssl x509 -req -sha256 -days 3650 -in "$pki/$name.csr" -CA "$pki/etcd-ca.crt" \
      -CAkey "$pki/etcd-ca.key" -set_serial "0x$(openssl rand -hex 16)" -extfile "$ext" \
      -out "$pki/$name.crt" 2>/dev/null
  local rc=$?
  rm -f "$pki/$name.csr" "$ext"
  return "$rc"
}

testenv_etcd_down() {
  local dir="${1:?testenv_etcd_down DIR}" m pid
  local -a pids=()
  [[ -d "$dir/etcd" ]] || return 0
  # SIGTERM to every member first, then wait for each: stopping them one by one makes
  # the survivors spend election timeouts on the missing ones.
  for m in "${TESTENV_ETCD_MEMBERS[@]}"; do
    [[ -f "$dir/etcd/$m.pid" ]] || continue
    pid="$(cat "$dir/etcd/$m.pid" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(ps -o comm= -p "$pid" 2>/dev/null)" == etcd* ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$dir/etcd/$m.pid"
  done
  for pid in "${pids[@]}"; do sp_stop_pid "$pid" 10; done
}

# _testenv_etcd_start_member DIR M: runs DIR/etcd/M.run in the background, records its pid.
_testenv_etcd_start_member() {
  local dir="$1" m="$2"
  setsid "$dir/etcd/$m.run" >>"$dir/etcd/$m.log" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$dir/etcd/$m.pid"
}

testenv_etcd_up() {
  local dir="${1:?testenv_etcd_up DIR}" e m i try token cluster="" endpoints=""
  local -a cports=() pports=()
  command -v etcd >/dev/null 2>&1 || {
    sp_log "etcd not found (apt-get install etcd-server; scripts/deps.sh)"
    return 1
  }
  testenv_etcd_down "$dir"
  e="$dir/etcd"
  rm -rf "$e"
  mkdir -p "$e"
  chmod 0700 "$e"
  _testenv_etcd_pki "$e/pki" || {
    sp_log "etcd test PKI generation failed"
    return 1
  }
  for try in 1 2 3; do
    cports=()
    pports=()
    cluster=""
    endpoints=""
    for i in 0 1 2; do
      sp_pick_port "cports[$i]"
      sp_pick_port "pports[$i]"
      cluster+="${cluster:+,}${TESTENV_ETCD_MEMBERS[$i]}=https://127.0.0.1:${pports[$i]}"
      endpoints+="${endpoints:+,}https://127.0.0.1:${cports[$i]}"
    done
    token="segproxy-test-$(openssl rand -hex 6)"
    for i in 0 1 2; do
      m="${TESTENV_ETCD_MEMBERS[$i]}"
      rm -rf "${e:?}/$m"
      : >"$e/$m.log"
      cat >"$e/$m.run" <<RUN
#!/bin/sh
exec etcd --name $m --data-dir '$e/$m' \\
  --listen-client-urls https://127.0.0.1:${cports[$i]} \\
  --advertise-client-urls https://127.0.0.1:${cports[$i]} \\
  --listen-peer-urls https://127.0.0.1:${pports[$i]} \\
  --initial-advertise-peer-urls https://127.0.0.1:${pports[$i]} \\
  --initial-cluster $cluster --initial-cluster-state new --initial-cluster-token $token \\
  --client-cert-auth --trusted-ca-file '$e/pki/etcd-ca.crt' \\
  --cert-file '$e/pki/member.crt' --key-file '$e/pki/member.key' \\
  --peer-client-cert-auth --peer-trusted-ca-file '$e/pki/etcd-ca.crt' \\
  --peer-cert-file '$e/pki/member.crt' --peer-key-file '$e/pki/member.key' \\
  --heartbeat-interval 50 --election-timeout 500 \\
  --logger zap --log-outputs stderr
RUN
      chmod 0700 "$e/$m.run"
      _testenv_etcd_start_member "$dir" "$m"
    done
    printf '%s\n' "$endpoints" >"$e/endpoints"
    if _testenv_etcd_wait_healthy "$dir" 30; then
      return 0
    fi
    sp_log "etcd cluster did not become healthy (attempt $try); log tails:"
    for m in "${TESTENV_ETCD_MEMBERS[@]}"; do tail -n 3 "$e/$m.log" >&2 || true; done
    testenv_etcd_down "$dir"
  done
  return 1
}

# _testenv_etcd_ctl DIR ARGS...: etcdctl against the test cluster (v3 API, client cert).
_testenv_etcd_ctl() {
  local dir="$1"
  shift
  ETCDCTL_API=3 etcdctl --endpoints "$(cat "$dir/etcd/endpoints")" \
    --cacert "$dir/etcd/pki/etcd-ca.crt" --cert "$dir/etcd/pki/client.crt" \
    --key "$dir/etcd/pki/client.key" --command-timeout 3s --dial-timeout 2s "$@"
}

# _testenv_etcd_wait_healthy DIR TIMEOUT: every member answers and a write commits.
_testenv_etcd_wait_healthy() {
  local dir="$1" timeout="$2" deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if _testenv_etcd_ctl "$dir" endpoint health >/dev/null 2>&1 &&
      _testenv_etcd_ctl "$dir" put /segproxy-testenv/ready 1 >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# testenv_etcd_env DIR: export lines for env.sh.
testenv_etcd_env() {
  local dir="$1" e="$1/etcd"
  [[ -f "$e/endpoints" ]] || return 0
  printf 'export SEGPROXY_TEST_ETCD_ENDPOINTS=%q\n' "$(cat "$e/endpoints")"
  printf 'export SEGPROXY_TEST_ETCD_CA=%q\n' "$e/pki/etcd-ca.crt"
  printf 'export SEGPROXY_TEST_ETCD_CERT=%q\n' "$e/pki/client.crt"
  printf 'export SEGPROXY_TEST_ETCD_KEY=%q\n' "$e/pki/client.key"
  printf 'export SEGPROXY_TEST_ETCD_DIR=%q\n' "$e"
}
