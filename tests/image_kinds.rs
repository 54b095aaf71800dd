//! Every kind of image file a collection may hold, imported through the real import: each is
//! imported correctly (right size, colours upright) or skipped with a reason; none panics.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
use leukolens::dataset::{self, Layout};
use leukolens::taxonomy::Taxonomy;

/// Imports one file (as `monocyte/<name>` of an image folder, beside one good image so the
/// import has something to import): its (width, height), or the reason it was skipped.
fn import_one(name: &str, bytes: &[u8]) -> Result<(u32, u32), String> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("monocyte")).unwrap();
    std::fs::create_dir_all(root.join("basophil")).unwrap();
    image::RgbImage::from_pixel(8, 8, Rgb([1, 2, 3]))
        .save(root.join("basophil/good.png"))
        .unwrap();
    std::fs::write(root.join("monocyte").join(name), bytes).unwrap();
    let out = dataset::import(
        root,
        Some(Layout::ImageFolder),
        Taxonomy::default_allidb(),
        &|_, _| {},
    )
    .unwrap();
    let rel = format!("monocyte/{name}");
    if let Some(im) = out.images.iter().find(|i| i.rel_path == rel) {
        return Ok((im.width, im.height));
    }
    let (_, why) = out
        .report
        .skipped
        .iter()
        .find(|(p, _)| p.ends_with(&rel))
        .unwrap_or_else(|| panic!("{rel} neither imported nor listed: {:?}", out.report));
    Err(why.clone())
}

fn encode<P, C>(img: &ImageBuffer<P, C>, format: image::ImageFormat) -> Vec<u8>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    let mut c = std::io::Cursor::new(Vec::new());
    img.write_to(&mut c, format).unwrap();
    c.into_inner()
}

fn decoded(bytes: &[u8]) -> image::RgbImage {
    dataset::decode_rgb8(bytes).unwrap()
}

#[test]
fn png_16_bit() {
    let img: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_fn(9, 7, |x, _| Rgb([x as u16 * 8000, 65535, 0]));
    let bytes = encode(&img, image::ImageFormat::Png);
    assert_eq!(import_one("a16.png", &bytes), Ok((9, 7)));
    let p = decoded(&bytes).get_pixel(8, 0).0;
    assert_eq!(p, [249, 255, 0], "16-bit values are scaled to 8 bits");
}

#[test]
fn tiff_16_bit() {
    let img: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_fn(5, 6, |_, y| Rgb([0, y as u16 * 10000, 65535]));
    let bytes = encode(&img, image::ImageFormat::Tiff);
    assert_eq!(import_one("a16.tif", &bytes), Ok((5, 6)));
    assert_eq!(decoded(&bytes).get_pixel(0, 5).0, [0, 195, 255]);
}

/// A CMYK JPEG (12×10, red at the top to blue at the bottom; 360 bytes, made with ImageMagick:
/// `convert -size 12x10 gradient:red-blue -colorspace CMYK -quality 85 -strip cmyk.jpg`).
#[test]
fn cmyk_jpeg() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cmyk.jpg"))
            .unwrap();
    assert_eq!(import_one("cmyk.jpg", &bytes), Ok((12, 10)));
    let img = decoded(&bytes);
    let top = img.get_pixel(6, 0).0;
    let bottom = img.get_pixel(6, 9).0;
    assert!(top[0] > 200 && top[2] < 60, "top is red: {top:?}");
    assert!(
        bottom[2] > 200 && bottom[0] < 60,
        "bottom is blue: {bottom:?}"
    );
}

#[test]
fn grayscale_with_and_without_alpha() {
    let grey: ImageBuffer<Luma<u8>, Vec<u8>> =
        ImageBuffer::from_fn(6, 4, |x, _| Luma([x as u8 * 40]));
    let bytes = encode(&grey, image::ImageFormat::Png);
    assert_eq!(import_one("grey.png", &bytes), Ok((6, 4)));
    assert_eq!(decoded(&bytes).get_pixel(5, 0).0, [200, 200, 200]);
    let grey_a: ImageBuffer<LumaA<u8>, Vec<u8>> =
        ImageBuffer::from_fn(3, 3, |_, _| LumaA([77, 10]));
    let bytes = encode(&grey_a, image::ImageFormat::Png);
    assert_eq!(import_one("grey-alpha.png", &bytes), Ok((3, 3)));
    assert_eq!(decoded(&bytes).get_pixel(1, 1).0, [77, 77, 77]);
}

/// A palette PNG, built by hand (the encoder writes none): 4×2, index 0 red, 1 blue.
#[test]
fn palette_png() {
    let bytes = palette_png_bytes();
    assert_eq!(import_one("palette.png", &bytes), Ok((4, 2)));
    let img = decoded(&bytes);
    assert_eq!(img.get_pixel(0, 0).0, [255, 0, 0]);
    assert_eq!(img.get_pixel(3, 1).0, [0, 0, 255]);
}

#[test]
fn rgba_drops_alpha() {
    let img: ImageBuffer<Rgba<u8>, Vec<u8>> =
        ImageBuffer::from_fn(5, 5, |_, _| Rgba([10, 20, 30, 0]));
    let bytes = encode(&img, image::ImageFormat::Png);
    assert_eq!(import_one("rgba.png", &bytes), Ok((5, 5)));
    assert_eq!(decoded(&bytes).get_pixel(2, 2).0, [10, 20, 30]);
}

/// A JPEG stored sideways with EXIF orientation 6 ("rotate 90° clockwise to view"): imported
/// upright, its size swapped.
#[test]
fn exif_rotated_jpeg() {
    // 40×16: red left half, blue right half. Turned clockwise, red is at the top.
    let img = image::RgbImage::from_fn(40, 16, |x, _| {
        if x < 20 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let plain = encode(&img, image::ImageFormat::Jpeg);
    let rotated = with_exif_orientation(&plain, 6);
    assert_eq!(import_one("plain.jpg", &plain), Ok((40, 16)));
    assert_eq!(import_one("rotated.jpg", &rotated), Ok((16, 40)));
    let up = decoded(&rotated);
    assert!(up.get_pixel(8, 2).0[0] > 200, "{:?}", up.get_pixel(8, 2));
    assert!(up.get_pixel(8, 37).0[2] > 200, "{:?}", up.get_pixel(8, 37));
}

#[test]
fn truncated_files_are_skipped_as_damaged() {
    let img = image::RgbImage::from_fn(64, 64, |x, y| Rgb([(x * y) as u8, x as u8 * 3, y as u8]));
    for (name, format) in [
        ("cut.png", image::ImageFormat::Png),
        ("cut.jpg", image::ImageFormat::Jpeg),
        ("cut.tif", image::ImageFormat::Tiff),
        ("cut.bmp", image::ImageFormat::Bmp),
    ] {
        let bytes = encode(&img, format);
        let why = import_one(name, &bytes[..bytes.len() / 2]).unwrap_err();
        assert!(why.contains("damaged or truncated"), "{name}: {why}");
    }
}

#[test]
fn a_zero_byte_file_is_skipped_as_empty() {
    let why = import_one("zero.png", b"").unwrap_err();
    assert_eq!(why, "the file is empty (0 bytes)");
}

/// Headers that claim enormous images are refused before anything is allocated.
#[test]
fn decompression_bomb_headers_are_refused() {
    // Past the side limit: 100,000 × 100,000.
    let why = import_one("huge.png", &png_with_header(100_000, 100_000, 8, 2)).unwrap_err();
    assert!(why.contains("too large (100000×100000 px"), "{why}");
    // Within the side limit but past the allocation limit: 16,000² RGBA at 16 bits = 2 GB, and
    // 12,000² RGB at 8 bits = 432 MB.
    let why = import_one("deep.png", &png_with_header(16_000, 16_000, 16, 6)).unwrap_err();
    assert!(why.contains("too large for the decoder's limits"), "{why}");
    let why = import_one("wide.png", &png_with_header(12_000, 12_000, 8, 2)).unwrap_err();
    assert!(why.contains("too large for the decoder's limits"), "{why}");
}

/// A PNG of just a header (and an empty image stream) with the given size, bit depth and colour
/// type.
fn png_with_header(w: u32, h: u32, depth: u8, colour: u8) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut v, b"IHDR", &ihdr);
    chunk(&mut v, b"IDAT", &zlib_stored(&[0; 64]));
    chunk(&mut v, b"IEND", &[]);
    v
}

fn palette_png_bytes() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&4u32.to_be_bytes());
    ihdr.extend_from_slice(&2u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
    chunk(&mut v, b"IHDR", &ihdr);
    chunk(&mut v, b"PLTE", &[255, 0, 0, 0, 0, 255]);
    // Rows: filter byte 0, then 4 indices.
    chunk(
        &mut v,
        b"IDAT",
        &zlib_stored(&[0, 0, 0, 1, 1, 0, 0, 1, 1, 1]),
    );
    chunk(&mut v, b"IEND", &[]);
    v
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc_input);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

/// A zlib stream of one stored (uncompressed) deflate block.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x78, 0x01, 0x01];
    let len = data.len() as u16;
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&(!len).to_le_bytes());
    v.extend_from_slice(data);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    v.extend_from_slice(&((b << 16) | a).to_be_bytes());
    v
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `jpeg` with an EXIF segment (APP1) holding only an orientation tag, right after SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}
