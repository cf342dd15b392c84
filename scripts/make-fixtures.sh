#!/usr/bin/env bash
# Recreates test/fixtures/library/: a small library of real media files made by ffmpeg.
# test/fixtures/expected.json describes what each file holds; test/fixtures/README.md explains the layout.
# Reruns give the same bytes: bit-exact ffmpeg output, no input metadata, seeded random bytes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$ROOT/test/fixtures/library"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

for tool in ffmpeg python3; do
  command -v "$tool" >/dev/null || { echo "make-fixtures: $tool is required" >&2; exit 1; }
done

rm -rf "$LIB"
mkdir -p "$LIB"

# ---------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# No metadata from the (lavfi) inputs, no encoder version strings, fixed stream serials/ids.
EXACT=(-map_metadata -1 -fflags +bitexact -flags +bitexact)
MP3=(-c:a libmp3lame -b:a 32k)
FLAC=(-c:a flac)
FRONT_COVER=(-c:v copy -disposition:v attached_pic -metadata:s:v 'title=Album cover' -metadata:s:v 'comment=Cover (front)')

# meta KEY=VALUE...: sets META to the matching ffmpeg -metadata arguments.
meta() {
  META=()
  local kv
  for kv in "$@"; do META+=(-metadata "$kv"); done
}

# tone OUT FREQ SECONDS RATE [ffmpeg output args...]: a mono sine tone, encoded as the args say.
tone() {
  local out=$1 freq=$2 secs=$3 rate=$4
  shift 4
  mkdir -p "$(dirname "$out")"
  ff -f lavfi -i "sine=frequency=$freq:duration=$secs:sample_rate=$rate" "${EXACT[@]}" "$@" "$out"
}

# tone_with_cover OUT FREQ SECONDS COVER [ffmpeg output args...]: the same, with COVER as the front-cover picture.
tone_with_cover() {
  local out=$1 freq=$2 secs=$3 cover=$4
  shift 4
  mkdir -p "$(dirname "$out")"
  ff -f lavfi -i "sine=frequency=$freq:duration=$secs:sample_rate=22050" -i "$cover" -map 0 -map 1 \
    "${FRONT_COVER[@]}" "${EXACT[@]}" "$@" "$out"
}

# picture OUT LAVFI_SOURCE: one JPEG frame of a lavfi test source.
picture() {
  ff -f lavfi -i "$2" -frames:v 1 -c:v mjpeg -q:v 6 "${EXACT[@]}" "$1"
}

nfc() { python3 -c 'import sys, unicodedata; sys.stdout.write(unicodedata.normalize("NFC", sys.argv[1]))' "$1"; }
nfd() { python3 -c 'import sys, unicodedata; sys.stdout.write(unicodedata.normalize("NFD", sys.argv[1]))' "$1"; }

# id3v24_finish FILE: ffmpeg cannot put a NUL into a tag value, so it writes "A;B" as one string, and it
# writes compilation=1 as TXXX:TCMP because TCMP is not a standard frame. Rewrite TPE1/TCON "A;B" as the
# ID3v2.4 NUL-separated list "A\0B" and TXXX:TCMP as a real TCMP frame (what iTunes, Picard and Mp3tag write).
id3v24_finish() {
  python3 - "$1" <<'PY'
import sys

def unsynchsafe(b): return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]
def synchsafe(n): return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])

path = sys.argv[1]
data = open(path, 'rb').read()
assert data[:3] == b'ID3' and data[3] == 4 and data[5] == 0, 'expected a plain ID3v2.4 tag'
size = unsynchsafe(data[6:10])
body, audio = data[10:10 + size], data[10 + size:]
frames, pos = [], 0
while pos + 10 <= len(body) and body[pos] != 0:
    fid, fsize, flags = body[pos:pos + 4], unsynchsafe(body[pos + 4:pos + 8]), body[pos + 8:pos + 10]
    content = body[pos + 10:pos + 10 + fsize]
    pos += 10 + fsize
    if fid in (b'TPE1', b'TCON') and content[:1] == b'\x03':
        content = content.replace(b';', b'\x00')
    if fid == b'TXXX' and content.startswith(b'\x03TCMP\x00'):
        fid, content = b'TCMP', b'\x03' + content[len(b'\x03TCMP\x00'):]
    frames.append(fid + synchsafe(len(content)) + flags + content)
new_body = b''.join(frames) + bytes(len(body) - pos)
open(path, 'wb').write(data[:6] + synchsafe(len(new_body)) + new_body + audio)
PY
}

# strip_id3v2 FILE: drop the leading ID3v2 tag. ffmpeg 5.1 writes no ID3v1 tag when told -id3v2_version 0,
# so an ID3v1-only file is made with both tags and then loses the ID3v2 one.
strip_id3v2() {
  python3 - "$1" <<'PY'
import sys
path = sys.argv[1]
data = open(path, 'rb').read()
assert data[:3] == b'ID3'
size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
footer = 10 if data[5] & 0x10 else 0
rest = data[10 + size + footer:]
assert rest[-128:-125] == b'TAG', 'ID3v1 tag missing'
open(path, 'wb').write(rest)
PY
}

# flac_add_comments FILE KEY=VALUE...: append Vorbis comments. ffmpeg keeps one value per key, so the
# second ARTIST/GENRE of a multi-valued field is added here (Vorbis comments repeat the key).
flac_add_comments() {
  python3 - "$@" <<'PY'
import sys
path, extra = sys.argv[1], [kv.encode() for kv in sys.argv[2:]]
data = open(path, 'rb').read()
assert data[:4] == b'fLaC'
out, pos = [b'fLaC'], 4
while True:
    header = data[pos]
    length = int.from_bytes(data[pos + 1:pos + 4], 'big')
    block = data[pos + 4:pos + 4 + length]
    pos += 4 + length
    if header & 0x7F == 4:  # VORBIS_COMMENT: vendor, count, comments (little-endian lengths)
        vlen = int.from_bytes(block[:4], 'little')
        count = int.from_bytes(block[4 + vlen:8 + vlen], 'little')
        block = (block[:4 + vlen] + (count + len(extra)).to_bytes(4, 'little') + block[8 + vlen:]
                 + b''.join(len(e).to_bytes(4, 'little') + e for e in extra))
    out.append(bytes([header]) + len(block).to_bytes(3, 'big') + block)
    if header & 0x80:
        break
open(path, 'wb').write(b''.join(out) + data[pos:])
PY
}

# truncate_mid_frame IN OUT: copy IN (ID3v2 tag + Info frame + MPEG-1 layer III frames) up to the middle of
# its second audio frame. The Info (Xing) frame still announces the full length.
truncate_mid_frame() {
  python3 - "$1" "$2" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
pos = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]) if data[:3] == b'ID3' else 0
BITRATES = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
RATES = [44100, 48000, 32000]

def frame_length(at):
    h = data[at:at + 4]
    assert h[0] == 0xFF and h[1] & 0xFE == 0xFA, 'expected an MPEG-1 layer III frame header'
    return 144000 * BITRATES[h[2] >> 4] // RATES[(h[2] >> 2) & 3] + ((h[2] >> 1) & 1)

for _ in range(2):  # skip the Info frame and the first audio frame
    pos += frame_length(pos)
cut = pos + frame_length(pos) // 2
open(sys.argv[2], 'wb').write(data[:cut])
PY
}

# seeded_bytes OUT COUNT SEED: reproducible "random" bytes.
seeded_bytes() {
  python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(int(sys.argv[2])).randbytes(int(sys.argv[1])))' "$2" "$3" >"$1"
}

# apple_double OUT: the AppleDouble header macOS leaves as "._name" on non-HFS volumes.
apple_double() {
  python3 - "$1" <<'PY'
import struct, sys
header = struct.pack('>II16sH', 0x00051607, 0x00020000, b'Mac OS X        ', 2)
entries = struct.pack('>III', 9, 50, 32) + struct.pack('>III', 2, 82, 0)  # Finder info, empty resource fork
finder_info = b'MPG3hook' + bytes(24)
open(sys.argv[1], 'wb').write(header + entries + finder_info)
PY
}

# ---------------------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------------------

picture "$WORK/front-signals.jpg" 'testsrc=size=64x64:rate=1'
picture "$WORK/front-aurora.jpg" 'rgbtestsrc=size=64x64:rate=1'
picture "$WORK/front-sampler.jpg" 'testsrc2=size=64x64:rate=1'

# ---------------------------------------------------------------------------------------------------------
# MP3, ID3v2.4: multi-valued artist and genre, album artist, track/disc totals, embedded front cover
# ---------------------------------------------------------------------------------------------------------

SIGNALS="$LIB/Aurora Tide/Signals"
meta 'title=First Light' 'artist=Aurora Tide;Mika Sol' 'album=Signals' 'album_artist=Aurora Tide' \
  'date=2019' 'track=1/2' 'disc=1/1' 'genre=Electronic;Ambient'
tone_with_cover "$SIGNALS/01 First Light.mp3" 440 2 "$WORK/front-signals.jpg" "${MP3[@]}" -id3v2_version 4 "${META[@]}"
id3v24_finish "$SIGNALS/01 First Light.mp3"

meta 'title=Second Wind' 'artist=Aurora Tide' 'album=Signals' 'album_artist=Aurora Tide' \
  'date=2019' 'track=2/2' 'disc=1/1' 'genre=Electronic'
tone_with_cover "$SIGNALS/02 Second Wind.mp3" 494 2 "$WORK/front-signals.jpg" "${MP3[@]}" -id3v2_version 4 "${META[@]}"

# A byte-identical copy elsewhere: one track, two locations.
mkdir -p "$LIB/Backup"
cp "$SIGNALS/02 Second Wind.mp3" "$LIB/Backup/Second Wind (copy).mp3"

# ---------------------------------------------------------------------------------------------------------
# MP3, ID3v2.3 with non-Latin-1 text (ffmpeg writes it as UTF-16 with BOM)
# ---------------------------------------------------------------------------------------------------------

GREEK_ARTIST="$(nfc 'Ελένη Παπαδάκη')"
GREEK_ALBUM="$(nfc 'Ταξίδι στην Ανατολή')"
meta 'title=夜明けの歌' "artist=$GREEK_ARTIST" "album=$GREEK_ALBUM" 'date=2008' 'track=2/5' 'genre=World'
tone "$LIB/$GREEK_ARTIST/$GREEK_ALBUM/02 夜明けの歌.mp3" 587 2 22050 "${MP3[@]}" -id3v2_version 3 "${META[@]}"

# ---------------------------------------------------------------------------------------------------------
# MP3, ID3v1.1 only
# ---------------------------------------------------------------------------------------------------------

OLD="$LIB/Old Timer/Dusty Reels/04 Ragtime Ramble.mp3"
meta 'title=Ragtime Ramble' 'artist=Old Timer' 'album=Dusty Reels' 'date=1975' 'track=4' 'genre=Jazz'
tone "$OLD" 659 2 22050 "${MP3[@]}" -id3v2_version 3 -write_id3v1 1 "${META[@]}"
strip_id3v2 "$OLD"

# ---------------------------------------------------------------------------------------------------------
# Compilation over two discs: MP3 (TCMP) on disc 1, FLAC (COMPILATION) on disc 2
# ---------------------------------------------------------------------------------------------------------

MIX="$LIB/Various Artists/Summer Mix"
mix_mp3() { # OUT FREQ TITLE ARTIST TRACK
  meta "title=$3" "artist=$4" 'album=Summer Mix' 'album_artist=Various Artists' 'compilation=1' \
    'date=2020' "track=$5/2" 'disc=1/2' 'genre=Pop'
  tone "$1" "$2" 2 22050 "${MP3[@]}" -id3v2_version 4 "${META[@]}"
  id3v24_finish "$1"
}
mix_flac() { # OUT FREQ TITLE ARTIST TRACK
  meta "TITLE=$3" "ARTIST=$4" 'ALBUM=Summer Mix' 'ALBUMARTIST=Various Artists' 'COMPILATION=1' \
    'DATE=2020' "TRACKNUMBER=$5" 'TRACKTOTAL=2' 'DISCNUMBER=2' 'DISCTOTAL=2' 'GENRE=Pop'
  tone "$1" "$2" 1 22050 "${FLAC[@]}" "${META[@]}"
}
mix_mp3 "$MIX/Disc 1/01 Sunny Day.mp3" 523 'Sunny Day' 'The Beachcombers' 1
mix_mp3 "$MIX/Disc 1/02 Heatwave.mp3" 554 'Heatwave' 'DJ Kelvin' 2
mix_flac "$MIX/Disc 2/01 Night Drive.flac" 587 'Night Drive' 'Neon Ghost' 1
mix_flac "$MIX/Disc 2/02 Last Call.flac" 622 'Last Call' 'Marta Vidal' 2

# ---------------------------------------------------------------------------------------------------------
# MP3 without any tag: artist, album, track number and title come from the path
# ---------------------------------------------------------------------------------------------------------

tone "$LIB/Some Artist/Some Album/03 Untitled Song.mp3" 698 2 22050 "${MP3[@]}" -id3v2_version 0

# ---------------------------------------------------------------------------------------------------------
# FLAC: PICTURE block, multi-valued ARTIST/GENRE, MusicBrainz ids, ReplayGain, lyrics
# ---------------------------------------------------------------------------------------------------------

AURORA="$LIB/Northern Lights/Aurora/01 Solar Wind.flac"
meta 'TITLE=Solar Wind' 'ARTIST=Northern Lights' 'ALBUM=Aurora' 'ALBUMARTIST=Northern Lights' 'DATE=2015' \
  'TRACKNUMBER=1' 'TRACKTOTAL=1' 'DISCNUMBER=1' 'DISCTOTAL=1' 'GENRE=Ambient' \
  'MUSICBRAINZ_TRACKID=3f1e2d4c-5b6a-4798-8a1b-2c3d4e5f6a7b' \
  'MUSICBRAINZ_ALBUMID=9a8b7c6d-5e4f-4321-9fed-cba987654321' \
  'REPLAYGAIN_TRACK_GAIN=-6.50 dB' 'REPLAYGAIN_TRACK_PEAK=0.500000' \
  'REPLAYGAIN_ALBUM_GAIN=-7.25 dB' 'REPLAYGAIN_ALBUM_PEAK=0.500000' \
  "LYRICS=$(printf 'The wind is made of light\nAnd the light is made of wind')"
tone_with_cover "$AURORA" 740 1 "$WORK/front-aurora.jpg" "${FLAC[@]}" "${META[@]}"
flac_add_comments "$AURORA" 'ARTIST=Ola Nordmann' 'GENRE=Post-Rock'

# ---------------------------------------------------------------------------------------------------------
# One album, one format per track
# ---------------------------------------------------------------------------------------------------------

SAMPLER="$LIB/Cloudless Test Band/Format Sampler"
sampler_meta() { # TRACK TITLE: generic names; ffmpeg maps them to each container's own keys
  meta "title=$2" 'artist=Cloudless Test Band' 'album=Format Sampler' 'album_artist=Cloudless Test Band' \
    'date=2022' "track=$1/8" 'genre=Test Tones'
}
sampler_vorbis_meta() { # TRACK TITLE: Vorbis comments, upper-case keys as taggers write them
  meta "TITLE=$2" 'ARTIST=Cloudless Test Band' 'ALBUM=Format Sampler' 'ALBUMARTIST=Cloudless Test Band' \
    'DATE=2022' "TRACKNUMBER=$1" 'TRACKTOTAL=8' 'GENRE=Test Tones'
}

sampler_vorbis_meta 1 'Vorbis Tone'
tone "$SAMPLER/01 Vorbis Tone.ogg" 784 1 22050 -c:a libvorbis -q:a 0 "${META[@]}"
sampler_vorbis_meta 2 'Opus Tone'
tone "$SAMPLER/02 Opus Tone.opus" 831 1 48000 -c:a libopus -b:a 16k "${META[@]}"
sampler_meta 3 'AAC Tone'
tone_with_cover "$SAMPLER/03 AAC Tone.m4a" 880 1 "$WORK/front-sampler.jpg" -c:a aac -b:a 24k "${META[@]}"
sampler_meta 4 'ALAC Tone'
tone "$SAMPLER/04 ALAC Tone.m4a" 932 1 22050 -c:a alac "${META[@]}"
sampler_meta 5 'WAV Tone' # RIFF LIST/INFO has no album artist
tone "$SAMPLER/05 WAV Tone.wav" 988 1 22050 -c:a pcm_s16le "${META[@]}"
sampler_meta 6 'AIFF Tone' # in an ID3v2.4 chunk
tone "$SAMPLER/06 AIFF Tone.aiff" 1047 1 22050 -c:a pcm_s16be -write_id3v2 1 -id3v2_version 4 "${META[@]}"
# APEv2: ffmpeg writes keys as given, so use the APE names
meta 'Title=WavPack Tone' 'Artist=Cloudless Test Band' 'Album=Format Sampler' 'Album Artist=Cloudless Test Band' \
  'Year=2022' 'Track=7/8' 'Genre=Test Tones'
tone "$SAMPLER/07 WavPack Tone.wv" 1109 1 22050 -c:a wavpack "${META[@]}"
# ASF: ffmpeg maps date to nothing, so WM/Year is given by name
sampler_meta 8 'WMA Tone'
tone "$SAMPLER/08 WMA Tone.wma" 1175 1 22050 -c:a wmav2 -b:a 32k "${META[@]}" -metadata 'WM/Year=2022'

# ---------------------------------------------------------------------------------------------------------
# Folder images: cover.jpg in one album, folder.jpg in another; their tracks have no embedded art
# ---------------------------------------------------------------------------------------------------------

paper_mp3() { # OUT FREQ TITLE ALBUM TRACK/TOTAL
  meta "title=$3" 'artist=Paper Planes' "album=$4" 'date=2011' "track=$5" 'genre=Indie'
  tone "$1" "$2" 2 22050 "${MP3[@]}" -id3v2_version 4 "${META[@]}"
}
paper_mp3 "$LIB/Paper Planes/Origami/01 Fold.mp3" 330 'Fold' 'Origami' 1/2
paper_mp3 "$LIB/Paper Planes/Origami/02 Crease.mp3" 349 'Crease' 'Origami' 2/2
paper_mp3 "$LIB/Paper Planes/Kites/01 Updraft.mp3" 370 'Updraft' 'Kites' 1/1
picture "$LIB/Paper Planes/Origami/cover.jpg" 'smptebars=size=96x96:rate=1'
picture "$LIB/Paper Planes/Kites/folder.jpg" 'testsrc2=size=96x96:rate=1'

# ---------------------------------------------------------------------------------------------------------
# Videos
# ---------------------------------------------------------------------------------------------------------

mkdir -p "$LIB/Videos"
ff -f lavfi -i 'testsrc=size=160x90:rate=15:duration=1' -f lavfi -i 'sine=frequency=392:duration=1:sample_rate=22050' \
  -c:v libx264 -preset veryfast -crf 35 -pix_fmt yuv420p -threads 1 -c:a aac -b:a 24k \
  -metadata 'title=Test Pattern' -metadata 'date=2021' -movflags +faststart "${EXACT[@]}" \
  "$LIB/Videos/Test Pattern.mp4"
ff -f lavfi -i 'testsrc2=size=160x90:rate=15:duration=1' -f lavfi -i 'sine=frequency=415:duration=1:sample_rate=48000' \
  -c:v libvpx -b:v 50k -threads 1 -c:a libopus -b:a 16k \
  -metadata 'title=Moving Pattern' "${EXACT[@]}" \
  "$LIB/Videos/Moving Pattern.webm"

# ---------------------------------------------------------------------------------------------------------
# Non-ASCII file names: NFC (precomposed) and NFD (decomposed, as macOS HFS+ stores them). Tags are NFC.
# ---------------------------------------------------------------------------------------------------------

meta "title=$(nfc 'Jóga Ñandú')" "artist=$(nfc 'Émilie Brûlé')" "album=$(nfc 'Été Indien')" 'date=2004' 'track=1/1'
tone "$LIB/$(nfc 'Émilie Brûlé')/$(nfc 'Été Indien')/$(nfc '01 Jóga Ñandú').mp3" 392 2 22050 \
  "${MP3[@]}" -id3v2_version 4 "${META[@]}"

meta "title=$(nfc 'Déjà Vu')" "artist=$(nfc 'Café Nocturne')" "album=$(nfc 'Rêverie')" 'date=2012' 'track=1/1'
tone "$LIB/$(nfd 'Café Nocturne')/$(nfd 'Rêverie')/$(nfd '01 Déjà Vu').mp3" 415 2 22050 \
  "${MP3[@]}" -id3v2_version 4 "${META[@]}"

# ---------------------------------------------------------------------------------------------------------
# Junk, traps and media without a media extension
# ---------------------------------------------------------------------------------------------------------

JUNK="$LIB/junk"
mkdir -p "$JUNK"
: >"$JUNK/empty.mp3"
seeded_bytes "$JUNK/random.flac" 4096 1
printf 'Shopping list\n- milk\n- a better scanner\n' >"$JUNK/notes.m4a"
printf 'This folder holds files a media scanner must survive.\n' >"$JUNK/readme.txt"

meta 'title=Cut Short' 'artist=Truncation Test' 'album=Broken Files'
tone "$WORK/full.mp3" 466 2 44100 -c:a libmp3lame -b:a 128k -id3v2_version 4 "${META[@]}"
truncate_mid_frame "$WORK/full.mp3" "$JUNK/truncated.mp3"

apple_double "$JUNK/._Track.mp3"
meta 'title=Hidden' 'artist=Nobody' 'album=Dot Files'
tone "$JUNK/.hidden.mp3" 494 1 22050 "${MP3[@]}" -id3v2_version 4 "${META[@]}"

ln -s . "$JUNK/loop"
ln -s does-not-exist.mp3 "$JUNK/dangling.mp3"

# A real, tagged MP3 whose name gives no hint: found only by looking at its bytes.
meta 'title=Mystery Track' 'artist=Unknown Sender' 'album=No Extension' 'date=2023' 'track=1/1'
tone "$JUNK/mystery" 523 2 22050 "${MP3[@]}" -f mp3 -id3v2_version 4 "${META[@]}"

echo "make-fixtures: $(find "$LIB" -type f | wc -l) files, $(du -sh "$LIB" | cut -f1) in ${LIB#"$ROOT"/}"
