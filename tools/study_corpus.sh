#!/bin/sh
# study_corpus.sh DIR: the text of make study (specs/ablations/), rebuilt the
# same on every machine from Debian's package fortunes.
#   DIR/fortunes.txt  every file of /usr/share/games/fortunes/ but the .dat
#                     indexes and the .u8 links, in the C locale's sorted
#                     order of their names, each ended by a "%" line (four
#                     of them end without one) so that no two fortunes join;
#   DIR/train.txt     its first 90%, up to the end of the fortune that holds
#                     byte 90% (a "%" line included);
#   DIR/val.txt       the rest: tfmc compare's split (the last 10%), made on
#                     the text so that the tokenizer learns from train.txt alone.
set -e
dir=${1:?usage: study_corpus.sh DIR}
src=/usr/share/games/fortunes
[ -r "$src/computers" ] || { echo "study_corpus.sh: $src is missing: install the Debian package fortunes (tools/deps.sh)" >&2; exit 1; }
export LC_ALL=C
mkdir -p "$dir"
out="$dir/fortunes.txt"
: > "$out.tmp"
for f in $(ls "$src" | grep -v -e '\.dat$' -e '\.u8$'); do
	awk '{ print } END { if ($0 != "%") print "%" }' "$src/$f" >> "$out.tmp"
done
mv "$out.tmp" "$out"
total=$(wc -c < "$out")
# The byte offset of the first "%" line at or after 90% of the text.
cut=$(grep -b -x '%' "$out" | awk -F: -v t=$((total - total / 10)) '$1 >= t { print $1 + 2; exit }')
head -c "$cut" "$out" > "$dir/train.txt"
tail -c +"$((cut + 1))" "$out" > "$dir/val.txt"
echo "study_corpus.sh: $out: $total bytes; train.txt $cut, val.txt $((total - cut))"
