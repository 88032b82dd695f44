#!/usr/bin/env sh
# Install a command the tests or benchmarks need from its Debian package when it is missing.
# Usage: ensure-command.sh COMMAND DEBIAN_PACKAGE BREW_PACKAGE "what needs it"
command_name=$1 package=$2 brew_package=$3 needed_by=$4
if command -v "$command_name" >/dev/null 2>&1; then
    exit 0
fi
echo "$command_name is missing; installing Debian's $package package for $needed_by..." >&2
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -qq "$package" >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$package" >/dev/null 2>&1; }) \
        && command -v "$command_name" >/dev/null 2>&1 && exit 0
fi
echo "cannot install $command_name here: install it yourself (Debian/Ubuntu: sudo apt-get install $package; macOS: brew install $brew_package), needed by $needed_by" >&2
exit 1
