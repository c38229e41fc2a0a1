#!/bin/sh
# deps.sh: makes sure the Debian packages tfmc builds with are installed.
# Run by make before anything else.  As root it installs what is missing;
# otherwise it prints the exact line to run and fails.
PKGS="re2c lemon libcunit1-dev libcjson-dev libpcre2-dev libutf8proc-dev xz-utils libtcc-dev tcc clang fortunes"
missing=""
have() { [ -e "$1" ] || command -v "$1" >/dev/null 2>&1; }
have re2c || missing="$missing re2c"
have lemon || missing="$missing lemon"
have /usr/include/CUnit/Basic.h || missing="$missing libcunit1-dev"
have /usr/include/cjson/cJSON.h || missing="$missing libcjson-dev"
have /usr/include/pcre2.h || missing="$missing libpcre2-dev"	# the tokenizer's regexes
have /usr/include/utf8proc.h || missing="$missing libutf8proc-dev"	# its NFC, NFKC
have xz || missing="$missing xz-utils"	# the tests unpack tokenizer files
have /usr/include/libtcc.h || missing="$missing libtcc-dev"
have /usr/lib/x86_64-linux-gnu/tcc/libtcc1.a || have /usr/lib/tcc/libtcc1.a || missing="$missing tcc"
have /usr/share/games/fortunes/computers || missing="$missing fortunes"	# the training tests' text
have clang || missing="$missing clang"	# the tests compile the generated C with it too
[ -z "$missing" ] && exit 0
line="apt-get update && apt-get install -y$missing"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: installing:$missing" >&2
	DEBIAN_FRONTEND=noninteractive sh -c "apt-get update -qq && apt-get install -y -qq$missing" >&2 || exit 1
	exit 0
fi
echo "tfmc needs these Debian packages:$missing" >&2
echo "run as root:  $line" >&2
exit 1
