//! Preallocation (`FilePadding`): Apache grows a segment in 64 MiB steps ahead of the writes, so
//! that an fdatasync rarely has to update the file size, and the unused end of a segment reads as
//! zeros (a record length of 0 is "end of log"). Apache extends the file by writing one zero byte
//! at the new end, which makes a sparse file; `File::set_len` does the same.

/// Apache's preallocation step: 64 MiB (`FilePadding.preAllocSize = 65536 * 1024`; the system
/// property `zookeeper.preAllocSize` sets it in KiB).
pub const DEFAULT_PREALLOC_SIZE: u64 = 64 * 1024 * 1024;

/// Grow the file when the write position comes within this many bytes of its end
/// (`FilePadding.calculateFileSizeWithPadding`).
pub const PADDING_THRESHOLD: u64 = 4096;

/// `FilePadding.calculateFileSizeWithPadding`: the size a segment should have before a record is
/// written at `position`, given its current (preallocated) size. Returns `file_size` when no growth
/// is due.
///
/// A new segment starts with `file_size` = 16 (its header), so its first padding makes it
/// 64 MiB + 16 bytes long — the size of every fresh Apache log file.
pub fn calculate_file_size_with_padding(position: u64, file_size: u64, prealloc_size: u64) -> u64 {
    if prealloc_size > 0 && position.saturating_add(PADDING_THRESHOLD) >= file_size {
        if position > file_size {
            let grown = position.saturating_add(prealloc_size);
            grown - grown % prealloc_size
        } else {
            file_size.saturating_add(prealloc_size)
        }
    } else {
        file_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = DEFAULT_PREALLOC_SIZE;

    #[test]
    fn apache_table() {
        // (position, current size) -> new size, from FilePaddingTest and Apache's own log files.
        let cases = [
            (16, 16, M + 16),
            (100, M + 16, M + 16),
            (M + 16 - 4096, M + 16, 2 * M + 16),
            (M + 16 - 4097, M + 16, M + 16),
            (M + 100, M + 16, 2 * M),
            (0, 0, M),
        ];
        for (pos, size, want) in cases {
            assert_eq!(
                calculate_file_size_with_padding(pos, size, M),
                want,
                "{pos} {size}"
            );
        }
        assert_eq!(calculate_file_size_with_padding(10, 16, 0), 16);
    }
}
