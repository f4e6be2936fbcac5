#!/usr/bin/env bash
# Builds kube-audit-policy-check (.ci/kube-audit-policy-check/main.go) into
# DEST/bin: kube-apiserver's own audit-policy loader behind a command line,
# for the test that the Policy `kadet policy` writes is one the API server
# accepts (crates/kadet-cli/tests/it/policy.rs).
#
# The loader comes from Debian's `kubernetes` source package (bookworm:
# Kubernetes 1.20, whose tree vendors every module it needs) and is built
# with Debian's Go in GOPATH mode: no Go module proxy is needed.
set -euo pipefail
dest="${1:?usage: install-kube-audit-policy-check.sh DEST}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! command -v go >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq golang-go >/dev/null
fi
mkdir -p "$work/apt/lists/partial"
echo "deb-src http://deb.debian.org/debian bookworm main" >"$work/apt/sources.list"
apt_opts=(-o "APT::Sandbox::User=root" -o "Dir::Etc::SourceList=$work/apt/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::State::Lists=$work/apt/lists")
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only -qq kubernetes 2>/dev/null)
tar xzf "$work"/kubernetes_*.orig.tar.gz -C "$work"
tree="$(ls -d "$work"/kubernetes-*/ | head -n 1)"
mkdir -p "$work/gopath/src/k8s.io" "$tree/cmd/kube-audit-policy-check"
ln -s "$tree" "$work/gopath/src/k8s.io/kubernetes"
cp "$here/kube-audit-policy-check/main.go" "$tree/cmd/kube-audit-policy-check/"
mkdir -p "$dest/bin"
(cd "$work/gopath/src/k8s.io/kubernetes" &&
  GO111MODULE=off GOPATH="$work/gopath" GOCACHE="$work/gocache" GOFLAGS= \
    go build -o "$dest/bin/kube-audit-policy-check" ./cmd/kube-audit-policy-check)
echo "kube-audit-policy-check built from $(basename "$tree") with $(go version)"
