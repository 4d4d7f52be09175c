#!/usr/bin/env python3
"""extract-vmlinux.py BZIMAGE OUT - write the uncompressed ELF kernel found inside an x86
bzImage (Debian compresses with xz).  qemu boots that ELF through its PVH note, which skips
the real-mode setup and the in-guest decompression (several seconds under TCG)."""
import lzma
import sys

blob = open(sys.argv[1], 'rb').read()
XZ = b'\xfd7zXZ\x00'
pos = blob.find(XZ)
while pos >= 0:
    try:
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob[pos:])
    except lzma.LZMAError:
        elf = b''
    if elf.startswith(b'\x7fELF'):
        with open(sys.argv[2], 'wb') as f:
            f.write(elf)
        print(f"vmlinux: {len(elf)} bytes (xz stream at {pos})")
        sys.exit(0)
    pos = blob.find(XZ, pos + 1)
sys.exit("extract-vmlinux: no xz-compressed ELF in " + sys.argv[1])
