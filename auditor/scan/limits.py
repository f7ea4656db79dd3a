"""Resource bounds for the model scanner.

Every parser here reads attacker-controlled bytes, so every length, count and depth is checked against these
limits before anything is allocated or looped over. Hitting a limit is a finding ("could not verify"), never an
exception or an out-of-memory kill.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    # Opcodes per file before the reader gives up (a finding, and the report is incomplete). None: no horizon; every
    # opcode is at least one byte, so the time stays linear in the file size and memory is bounded by the other limits.
    max_pickle_ops: int | None = None
    max_stack: int = 1_000_000  # simulated stack depth / MARK nesting
    max_memo: int = 200_000  # memo entries holding real values; later ones hold a shared placeholder
    max_retained: int = 50_000  # container items kept for evidence; later ones are counted, not kept
    max_retained_bytes: int = 32 << 20  # str/bytes kept in memory over a whole pickle
    max_inline_bytes: int = 1 << 20  # str/bytes arguments kept in memory; longer ones are skipped
    max_pickles_per_stream: int = 64  # pickles read one after the other from one stream
    max_archive_members: int = 10_000  # members scanned per archive (raw torch storages are data: not counted)
    max_archive_entries: int = 2_000_000  # central-directory entries read at all (memory bound on the listing)
    max_archive_total: int = 16 << 30  # declared uncompressed bytes over an archive
    max_compression_ratio: int = 200  # declared uncompressed / compressed for one member
    max_member_read: int = 2 << 30  # bytes actually read (decompressed) from one member
    max_depth: int = 4  # containers inside containers
    max_header: int = 100 << 20  # safetensors JSON header (the safetensors library's own limit)
    max_json: int = 64 << 20  # Keras config.json / H5 model_config
    max_proto_depth: int = 64
    max_gguf_kv: int = 1_000_000
    max_gguf_string: int = 64 << 20
    max_gguf_array: int = 50_000_000


DEFAULT_LIMITS = Limits()
