//! The fuzz targets of `fuzz/` (see `leukolens::fuzz`), run here on seeded, mutated inputs: a
//! few thousand cases per target (3,000), in seconds, so that CI catches a regression without nightly
//! Rust. Each case starts from a valid file of that kind and applies 1 to 8 random edits (bit
//! flips, random or "interesting" bytes inserted, ranges deleted, duplicated or cut off).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Cases per target (`LEUKOLENS_FUZZ_CASES` runs more, for a longer search by hand).
fn cases() -> usize {
    std::env::var("LEUKOLENS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

/// Byte strings that parsers treat specially.
const TOKENS: &[&[u8]] = &[
    b"(",
    b")",
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b"\n",
    b",",
    b":",
    b"0",
    b"-1",
    b"1e309",
    b"18446744073709551615",
    b"4294967296",
    b"NaN",
    b"inf",
    b"\xff",
    b"\xc3",
    b"Some(",
    b"None",
    b"\\u{110000}",
    b"/*",
    b"r#\"",
    b"\r\n",
    b"\0",
    b"\xff\xd9",
    b"\xff\xda",
    b"IDAT",
    b"IEND",
];

fn mutate(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.random_range(1..=8) {
        let at = if v.is_empty() {
            0
        } else {
            rng.random_range(0..v.len())
        };
        match rng.random_range(0..7) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.random_range(0..8),
            1 if !v.is_empty() => v[at] = rng.random(),
            2 => {
                let n = rng.random_range(1..16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                v.splice(at..at, bytes);
            }
            3 if !v.is_empty() => {
                let end = (at + rng.random_range(1..64)).min(v.len());
                v.drain(at..end);
            }
            4 if !v.is_empty() => {
                let end = (at + rng.random_range(1..64)).min(v.len());
                let copy = v[at..end].to_vec();
                let to = rng.random_range(0..=v.len());
                v.splice(to..to, copy);
            }
            5 => v.truncate(at),
            _ => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
        }
    }
    v
}

/// Runs `target` on [`cases`] mutated inputs (and the seeds themselves); fails with the case and
/// the start of the input that panicked.
fn run(name: &str, seed: u64, seeds: &[Vec<u8>], target: fn(&[u8])) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = std::time::Instant::now();
    let mut failures = Vec::new();
    let inputs = seeds.iter().cloned().chain((0..cases()).map(|_| {
        let base = &seeds[rng.random_range(0..seeds.len())];
        mutate(&mut rng, base)
    }));
    let mut n = 0;
    for (case, input) in inputs.enumerate() {
        n += 1;
        if std::panic::catch_unwind(|| target(&input)).is_err() {
            let head = String::from_utf8_lossy(&input[..input.len().min(300)]).into_owned();
            failures.push(format!("case {case}: {head:?}"));
        }
    }
    leukolens::fuzz::remove_scratch();
    eprintln!(
        "{name}: {n} cases in {:.1} s, {} panics",
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{name}: {failures:#?}");
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap()
}

#[test]
fn project_files() {
    let demo = fixture("format-1/demo.ron");
    // A small project (fewer bytes: edits reach every part of it).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("d");
    for (class, seed) in [("monocyte", 1u8), ("blast", 2), ("monocyte", 3)] {
        let p = root.join(class).join(format!("{seed}.png"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(4, 4, image::Rgb([seed, 2, 3]))
            .save(&p)
            .unwrap();
    }
    let out = leukolens::dataset::import(
        &root,
        None,
        leukolens::taxonomy::Taxonomy::default_allidb(),
        &|_, _| {},
    )
    .unwrap();
    let small = leukolens::project::Project::from_import("s", &dir.path().join("s.ron"), &out, 1);
    run(
        "project RON",
        1,
        &[demo, small.to_ron().into_bytes()],
        leukolens::fuzz::project_ron,
    );
}

#[test]
fn journal_lines() {
    run(
        "journal",
        2,
        &[fixture("format-1/demo.ron.journal")],
        leukolens::fuzz::journal,
    );
}

#[test]
fn import_and_mapping_csv() {
    let seeds = [
        b"path,label\nimg/a.png,blast\nimg/b.png,\"Neutrophil, segmented\"\n".to_vec(),
        b"source,class\nblast,Myeloblast\nUNKNOWN,Smudge cell\n".to_vec(),
        b"a.png;lymphocytes\r\n\"b\"\"c.png\",NGS\n".to_vec(),
    ];
    run("import CSV", 3, &seeds, leukolens::fuzz::import_csv);
}

#[test]
fn sweep_snapshot_and_run_files() {
    let snapshot = fixture("format-1/demo.sweeps/old_sweep/snapshot.ron");
    let run0 = fixture("format-1/demo.sweeps/old_sweep/runs/f00-n0003.ron");
    let both = [&snapshot[..], leukolens::fuzz::SWEEP_SPLIT, &run0[..]].concat();
    let seeds = [
        both,
        snapshot,
        run0,
        fixture("format-1/demo.sweeps/old_sweep/runs/f01-n0003.ron"),
    ];
    run("sweep files", 4, &seeds, leukolens::fuzz::sweep_files);
}

/// A snapshot that names 100,000 outputs, with a finished run: the results tables must not
/// build a 100,000² confusion matrix (10¹⁰ cells) from it.
#[test]
fn a_snapshot_with_an_absurd_number_of_outputs() {
    let snapshot =
        String::from_utf8(fixture("format-1/demo.sweeps/old_sweep/snapshot.ron")).unwrap();
    let at = snapshot.find("output_names: [").unwrap() + "output_names: [".len();
    let many: String = (0..100_000).map(|i| format!("\"c{i}\",")).collect();
    let hostile = format!("{}{many}{}", &snapshot[..at], &snapshot[at..]);
    let run0 = fixture("format-1/demo.sweeps/old_sweep/runs/f00-n0003.ron");
    let input = [hostile.as_bytes(), leukolens::fuzz::SWEEP_SPLIT, &run0[..]].concat();
    let start = std::time::Instant::now();
    leukolens::fuzz::sweep_files(&input);
    leukolens::fuzz::remove_scratch();
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
}

#[test]
fn image_files() {
    let img = image::RgbImage::from_fn(12, 10, |x, y| image::Rgb([x as u8 * 20, y as u8 * 25, 90]));
    let encode = |f: image::ImageFormat| {
        let mut c = std::io::Cursor::new(Vec::new());
        img.write_to(&mut c, f).unwrap();
        c.into_inner()
    };
    let seeds = [
        encode(image::ImageFormat::Png),
        encode(image::ImageFormat::Jpeg),
        encode(image::ImageFormat::Tiff),
        encode(image::ImageFormat::Bmp),
        fixture("cmyk.jpg"),
    ];
    run("image decoding", 5, &seeds, leukolens::fuzz::image);
}
