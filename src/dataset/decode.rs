//! Decoding any image the `image` crate reads into RGB8, with limits that turn absurd
//! or broken files into a reason instead of a crash or an out-of-memory.

use std::path::Path;

use image::{DynamicImage, ImageReader, Limits, RgbImage};
use thiserror::Error;

/// Largest file we try to decode (bytes). Single-cell crops are a few hundred KiB.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Largest accepted width or height (pixels).
pub const MAX_SIDE: u32 = 16_384;
/// Largest decoder allocation (bytes): 256 MiB, an 8,192² RGBA image. Single-cell crops are
/// far smaller; a compressed "bomb" whose header claims 12,000² pixels (432 MB, from a file of
/// kilobytes) is refused before anything is allocated, on each of the import's threads.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Why a file could not be used as an image.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("{0}, not a regular file")]
    NotAFile(&'static str),
    #[error("the file is too large ({0} bytes; limit {MAX_FILE_BYTES})")]
    TooLarge(u64),
    #[error("not an image in a format leukolens reads (PNG, JPEG, TIFF, BMP)")]
    UnknownFormat,
    #[error("the image is too large ({0}×{1} px; limit {MAX_SIDE} per side)")]
    TooManyPixels(u32, u32),
    #[error("the image is too large for the decoder's limits ({0})")]
    OverLimits(String),
    #[error("the image is damaged or truncated: {0}")]
    Corrupt(String),
    /// The bytes differ from the content hash the project stored at import.
    #[error("the file changed since import (its content no longer matches the project's hash)")]
    Changed,
}

/// File extensions considered to be images when scanning folders.
pub const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif"];

/// Whether a path looks like an image file by its extension (case-insensitive).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Decodes bytes (already read from a file) into RGB8. 16-bit channels are scaled to 8 bits,
/// grey is replicated, alpha is dropped.
pub fn decode_rgb8(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DecodeError::TooLarge(bytes.len() as u64));
    }
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Io(e.to_string()))?;
    let format = reader.format().ok_or(DecodeError::UnknownFormat)?;
    if format == image::ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        // The JPEG decoder fills a cut-off scan with grey and reports success.
        return Err(DecodeError::Corrupt(
            "the JPEG has no end marker after its image data (the file was cut short)".into(),
        ));
    }
    let mut probe = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Io(e.to_string()))?;
    probe.no_limits();
    match probe.into_dimensions() {
        Ok((w, h)) if w > MAX_SIDE || h > MAX_SIDE => {
            return Err(DecodeError::TooManyPixels(w, h));
        }
        Err(image::ImageError::Limits(e)) => return Err(DecodeError::OverLimits(e.to_string())),
        _ => {}
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    // The decoders are not supposed to panic on bad input, but a panic on user data must never
    // take the application down: contain it and report the file as damaged.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_oriented(reader)));
    let img: DynamicImage = match result {
        Ok(Ok(img)) => img,
        Ok(Err(image::ImageError::Limits(e))) => {
            return Err(DecodeError::OverLimits(e.to_string()));
        }
        Ok(Err(image::ImageError::Unsupported(e))) => {
            return Err(DecodeError::Corrupt(format!("unsupported: {e}")));
        }
        Ok(Err(e)) => return Err(DecodeError::Corrupt(e.to_string())),
        Err(_) => return Err(DecodeError::Corrupt("the decoder failed".into())),
    };
    if img.width() == 0 || img.height() == 0 {
        return Err(DecodeError::Corrupt("zero-sized image".into()));
    }
    Ok(img.to_rgb8())
}

/// Whether a JPEG's last scan is followed by its end-of-image marker (FF D9). Inside
/// entropy-coded data an FF byte is always followed by 00 or a restart marker, so FF D9 after
/// the last start-of-scan (FF DA) is the real end; a file cut short has none.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        (None, Some(_)) => true,
        _ => false,
    }
}

/// Decodes with the reader's limits (checking the buffer size before allocating it), then
/// turns the image upright as its EXIF orientation says (a phone or scanner may store a cell
/// rotated).
fn decode_oriented(
    reader: ImageReader<std::io::Cursor<&[u8]>>,
) -> image::ImageResult<DynamicImage> {
    use image::ImageDecoder;
    let mut decoder = reader.into_decoder()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    limits.reserve(decoder.total_bytes())?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Reads and decodes a file into RGB8.
pub fn load_rgb8(path: &Path) -> Result<RgbImage, DecodeError> {
    let bytes = read_limited(path)?;
    decode_rgb8(&bytes)
}

/// Reads and decodes a file into RGB8 after checking its content against `hash` (the
/// project's [`content_hash`] of it), so that a file swapped since import is never used.
pub fn load_rgb8_checked(path: &Path, hash: &str) -> Result<RgbImage, DecodeError> {
    let bytes = read_limited(path)?;
    if content_hash(&bytes) != hash {
        return Err(DecodeError::Changed);
    }
    decode_rgb8(&bytes)
}

/// Reads a whole file, refusing special files (a named pipe would block), over-large files
/// before allocating, and empty ones. A file whose size the system reports as 0 (as /proc files
/// do) is read up to the limit, so it is called empty only when it is.
pub fn read_limited(path: &Path) -> Result<Vec<u8>, DecodeError> {
    let meta = std::fs::metadata(path).map_err(|e| DecodeError::Io(e.to_string()))?;
    if !meta.is_file() {
        return Err(DecodeError::NotAFile(special_file_kind(&meta.file_type())));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(DecodeError::TooLarge(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| DecodeError::Io(e.to_string()))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| DecodeError::Io(e.to_string()))?;
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DecodeError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, in words ("a named pipe (FIFO)").
pub fn special_file_kind(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
    }
    if ft.is_dir() {
        return "a folder";
    }
    "a special file"
}

/// Content hash of a file's bytes (BLAKE3, hex, 128 bits): identifies an image across moves.
pub fn content_hash(bytes: &[u8]) -> String {
    let h = blake3::hash(bytes);
    h.to_hex()[..32].to_string()
}

/// Resizes an RGB8 image to `side`×`side` (bilinear; single-cell crops are near-square, so
/// no padding) and writes it as planar CHW bytes (the compact training cache format).
pub fn to_chw_u8(img: &RgbImage, side: u32) -> Vec<u8> {
    let resized;
    let img = if img.width() == side && img.height() == side {
        img
    } else {
        resized = image::imageops::resize(img, side, side, image::imageops::FilterType::Triangle);
        &resized
    };
    let n = (side * side) as usize;
    let mut out = vec![0u8; 3 * n];
    for (i, p) in img.pixels().enumerate() {
        out[i] = p[0];
        out[n + i] = p[1];
        out[2 * n + i] = p[2];
    }
    out
}
