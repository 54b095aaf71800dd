//! Import of every layout from small generated fixtures, including broken files.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use image::{ImageBuffer, Luma, Rgb, RgbImage, Rgba};
use leukolens::dataset::{self, Layout, detect_layout};
use leukolens::project::{Project, Workspace};
use leukolens::taxonomy::Taxonomy;

fn cell(seed: u8) -> RgbImage {
    ImageBuffer::from_fn(24, 20, |x, y| {
        Rgb([
            seed.wrapping_add(x as u8),
            seed.wrapping_mul(3).wrapping_add(y as u8),
            128,
        ])
    })
}

fn write_png(path: &Path, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    cell(seed).save(path).unwrap();
}

fn none(_: usize, _: usize) {}

/// A PNG whose header claims an absurd size (100000×100000).
fn huge_png_header() -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(b"IHDR");
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(&ihdr);
    v.extend_from_slice(&crc32(&ihdr).to_be_bytes());
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

/// An image folder with every kind of good and bad file.
fn messy_imagefolder(root: &Path) {
    let mono = root.join("monocyte");
    let lym = root.join("typical_lymphocyte");
    let plasma = root.join("Plasma cell");
    write_png(&mono.join("a.png"), 1);
    cell(2).save(mono.join("b.jpg")).unwrap();
    cell(3).save(mono.join("c.bmp")).unwrap();
    // 16-bit TIFF
    let t16: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_fn(16, 16, |x, y| {
        Rgb([x as u16 * 4000, y as u16 * 4000, 65535])
    });
    std::fs::create_dir_all(&lym).unwrap();
    t16.save(lym.join("d16.tif")).unwrap();
    // grey and RGBA
    let grey: ImageBuffer<Luma<u8>, Vec<u8>> =
        ImageBuffer::from_fn(10, 10, |x, _| Luma([x as u8 * 20]));
    grey.save(lym.join("grey.png")).unwrap();
    let rgba: ImageBuffer<Rgba<u8>, Vec<u8>> =
        ImageBuffer::from_fn(10, 10, |x, y| Rgba([x as u8, y as u8, 9, 100]));
    rgba.save(lym.join("alpha.png")).unwrap();
    write_png(&plasma.join("p.png"), 7);
    // broken files
    std::fs::write(mono.join("empty.png"), b"").unwrap();
    std::fs::write(mono.join("notes.txt"), b"hello, this is not an image").unwrap();
    std::fs::write(mono.join("random.png"), [7u8; 300]).unwrap();
    let good = std::fs::read(mono.join("a.png")).unwrap();
    std::fs::write(mono.join("truncated.png"), &good[..good.len() / 2]).unwrap();
    std::fs::write(mono.join("huge.png"), huge_png_header()).unwrap();
    // an identical copy
    std::fs::write(lym.join("copy_of_a.png"), &good).unwrap();
}

#[test]
fn imagefolder_with_every_format_and_every_kind_of_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    messy_imagefolder(&root);
    assert_eq!(detect_layout(&root).unwrap(), Some(Layout::ImageFolder));
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    assert!(out.report.detected);
    assert_eq!(out.report.layout, Some(Layout::ImageFolder));
    let names: Vec<&str> = out.images.iter().map(|i| i.rel_path.as_str()).collect();
    for expected in [
        "monocyte/a.png",
        "monocyte/b.jpg",
        "monocyte/c.bmp",
        "typical_lymphocyte/d16.tif",
        "typical_lymphocyte/grey.png",
        "typical_lymphocyte/alpha.png",
        "typical_lymphocyte/copy_of_a.png",
        "Plasma cell/p.png",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(out.images.len(), 8);
    let reasons: std::collections::HashMap<String, String> = out
        .report
        .skipped
        .iter()
        .map(|(p, r)| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                r.clone(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons["empty.png"].contains("empty"));
    assert!(reasons["notes.txt"].contains("not an image"));
    assert!(
        reasons["random.png"].contains("not an image") || reasons["random.png"].contains("damaged")
    );
    assert!(
        reasons["truncated.png"].contains("damaged"),
        "{}",
        reasons["truncated.png"]
    );
    assert!(
        reasons["huge.png"].contains("too large"),
        "{}",
        reasons["huge.png"]
    );
    // The copy of a monocyte in the lymphocyte folder is a label conflict, not a duplicate.
    assert!(
        out.report.duplicates.is_empty(),
        "{:?}",
        out.report.duplicates
    );
    assert_eq!(out.report.conflicts.len(), 1, "{:?}", out.report.conflicts);
    let c = &out.report.conflicts[0];
    assert!(c.first.ends_with("monocyte/a.png") && c.first_class == "Monocyte");
    assert!(c.second.ends_with("typical_lymphocyte/copy_of_a.png"));
    assert_eq!(c.second_class, "Typical lymphocyte");
    // Labels map onto the taxonomy; unknown folders become new classes.
    let tax = &out.taxonomy;
    let by_path = |p: &str| out.images.iter().find(|i| i.rel_path == p).unwrap().class;
    assert_eq!(by_path("monocyte/a.png"), tax.find("Monocyte").unwrap());
    assert_eq!(
        by_path("typical_lymphocyte/grey.png"),
        tax.find("Typical lymphocyte").unwrap()
    );
    assert_eq!(
        by_path("Plasma cell/p.png"),
        tax.find("Plasma cell").unwrap()
    );
    assert_eq!(tax.len(), 11);
    // Every format decodes to RGB8 with its real size.
    let t16 = out
        .images
        .iter()
        .find(|i| i.rel_path.ends_with("d16.tif"))
        .unwrap();
    assert_eq!((t16.width, t16.height), (16, 16));
    let img = dataset::load_rgb8(&root.join("typical_lymphocyte/d16.tif")).unwrap();
    assert_eq!(
        img.get_pixel(15, 0)[2],
        255,
        "16-bit values are scaled to 8 bits"
    );
    let grey = dataset::load_rgb8(&root.join("typical_lymphocyte/grey.png")).unwrap();
    let p = grey.get_pixel(3, 3);
    assert_eq!((p[0], p[1], p[2]), (60, 60, 60));
}

/// A link back up the tree is not followed (its images would come again, under the wrong
/// class), and a file whose name is not UTF-8 is skipped with a reason instead of being stored
/// under a name that no longer finds it.
#[cfg(unix)]
#[test]
fn link_loops_and_non_utf8_names_are_not_imported() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    write_png(&root.join("monocyte/m1.png"), 1);
    write_png(&root.join("monocyte/m2.png"), 2);
    write_png(&root.join("basophil/b1.png"), 3);
    std::os::unix::fs::symlink("..", root.join("monocyte/loop")).unwrap();
    // A linked folder elsewhere is followed as before.
    write_png(&dir.path().join("elsewhere/b2.png"), 4);
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("basophil/more")).unwrap();
    let bad = root
        .join("basophil")
        .join(std::ffi::OsStr::from_bytes(b"\xff.png"));
    cell(5)
        .save_with_format(&bad, image::ImageFormat::Png)
        .unwrap();

    let out = dataset::import(
        &root,
        Some(Layout::ImageFolder),
        Taxonomy::default_allidb(),
        &none,
    )
    .unwrap();
    let mut names: Vec<&str> = out.images.iter().map(|i| i.rel_path.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "basophil/b1.png",
            "basophil/more/b2.png",
            "monocyte/m1.png",
            "monocyte/m2.png"
        ]
    );
    let monocyte = out.taxonomy.find("Monocyte").unwrap();
    assert_eq!(out.images.iter().filter(|i| i.class == monocyte).count(), 2);
    assert!(
        out.report.duplicates.is_empty(),
        "{:?}",
        out.report.duplicates
    );
    // Both are listed, with their reasons.
    assert_eq!(out.report.skipped.len(), 2, "{:?}", out.report.skipped);
    let reason = |name: &str| {
        out.report
            .skipped
            .iter()
            .find(|(p, _)| p.file_name().unwrap().as_encoded_bytes() == name.as_bytes())
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    assert!(reason("loop").contains("loop"), "{:?}", out.report.skipped);
    assert!(reason("\u{fffd}.png").is_empty());
    assert!(
        out.report
            .skipped
            .iter()
            .any(|(_, r)| r.contains("not valid UTF-8"))
    );
}

#[test]
fn allidb_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (name, seed) in [
        ("Im001_1.tif", 1),
        ("Im002_1.tif", 2),
        ("Im003_0.tif", 3),
        ("Im004_0.tif", 4),
    ] {
        cell(seed).save(root.join(name)).unwrap();
    }
    cell(9).save(root.join("stray.tif")).unwrap();
    assert_eq!(detect_layout(root).unwrap(), Some(Layout::AllIdb));
    let out = dataset::import(root, None, Taxonomy::default_allidb(), &none).unwrap();
    assert_eq!(out.images.len(), 4);
    let blast = out.taxonomy.find("Lymphoblast").unwrap();
    let non = out.taxonomy.find("Non-blast").unwrap();
    assert!(!out.taxonomy.is_positive(non));
    let im1 = out
        .images
        .iter()
        .find(|i| i.rel_path == "Im001_1.tif")
        .unwrap();
    let im3 = out
        .images
        .iter()
        .find(|i| i.rel_path == "Im003_0.tif")
        .unwrap();
    assert_eq!(im1.class, blast);
    assert_eq!(im3.class, non);
    assert_eq!(out.report.skipped.len(), 1);
}

#[test]
fn aml_lmu_layout_maps_codes_and_keeps_unmapped_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (i, code) in ["MYO", "MOB", "NGS", "LYT", "PMO", "EBO"]
        .iter()
        .enumerate()
    {
        write_png(
            &root.join(code).join(format!("{code}_0001.png")),
            i as u8 * 10,
        );
    }
    assert_eq!(detect_layout(root).unwrap(), Some(Layout::AmlLmu));
    let out = dataset::import(root, None, Taxonomy::default_allidb(), &none).unwrap();
    let tax = &out.taxonomy;
    let class_of = |code: &str| {
        out.images
            .iter()
            .find(|i| i.source_label == code)
            .unwrap()
            .class
    };
    assert_eq!(class_of("NGS"), tax.find("Segmented neutrophil").unwrap());
    assert_eq!(class_of("LYT"), tax.find("Typical lymphocyte").unwrap());
    let myo = class_of("MYO");
    assert_eq!(tax.get(myo).unwrap().name, "Myeloblast");
    assert!(tax.is_positive(myo), "myeloblasts are blasts");
    assert!(tax.is_positive(class_of("MOB")), "monoblasts are blasts");
    assert!(!tax.is_positive(class_of("PMO")));
    assert_eq!(tax.get(class_of("EBO")).unwrap().name, "Erythroblast");
}

#[test]
fn pbc_layout_uses_prefix_subclasses() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let files = [
        "neutrophil/BNE_1.jpg",
        "neutrophil/SNE_2.jpg",
        "ig/MY_3.jpg",
        "ig/PMY_4.jpg",
        "lymphocyte/LY_5.jpg",
        "platelet/PLATELET_6.jpg",
    ];
    for (i, f) in files.iter().enumerate() {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        cell(i as u8 * 20).save(&p).unwrap();
    }
    std::fs::write(root.join("labels.csv"), "path,class,subclass_prefix\n").unwrap();
    assert_eq!(detect_layout(root).unwrap(), Some(Layout::Pbc));
    let out = dataset::import(root, None, Taxonomy::default_allidb(), &none).unwrap();
    let tax = &out.taxonomy;
    let class_of = |f: &str| out.images.iter().find(|i| i.rel_path == f).unwrap().class;
    assert_eq!(
        class_of("neutrophil/BNE_1.jpg"),
        tax.find("Band neutrophil").unwrap()
    );
    assert_eq!(
        class_of("neutrophil/SNE_2.jpg"),
        tax.find("Segmented neutrophil").unwrap()
    );
    assert_eq!(
        class_of("lymphocyte/LY_5.jpg"),
        tax.find("Typical lymphocyte").unwrap()
    );
    assert_eq!(
        class_of("platelet/PLATELET_6.jpg"),
        tax.find("Thrombocyte").unwrap()
    );
    let my = class_of("ig/MY_3.jpg");
    assert_eq!(tax.get(my).unwrap().name, "Myelocyte");
    // PBC has no blasts: immature granulocytes are not flagged positive, and no class PBC
    // brings is (only the default taxonomy's Lymphoblast is).
    assert!(!tax.is_positive(my), "immature granulocytes are not blasts");
    let positive: Vec<&str> = tax
        .classes
        .iter()
        .filter(|c| c.positive)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(positive, ["Lymphoblast"]);
    assert_eq!(
        out.images
            .iter()
            .find(|i| i.rel_path == "ig/PMY_4.jpg")
            .unwrap()
            .source_label,
        "ig/PMY"
    );
}

#[test]
fn csv_layout_reports_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_png(&root.join("imgs/x.png"), 1);
    write_png(&root.join("imgs/y.png"), 2);
    std::fs::write(
        root.join("labels.csv"),
        "path,label\nimgs/x.png,Eosinophil\nimgs/y.png,basophil\nimgs/missing.png,Basophil\nonly-one-column\n",
    )
    .unwrap();
    let csv = root.join("labels.csv");
    assert_eq!(detect_layout(&csv).unwrap(), Some(Layout::Csv));
    let out = dataset::import(&csv, None, Taxonomy::default_allidb(), &none).unwrap();
    assert_eq!(out.images.len(), 2);
    assert_eq!(
        out.images[0].class,
        out.taxonomy.find("Eosinophil").unwrap()
    );
    assert_eq!(out.images[1].class, out.taxonomy.find("Basophil").unwrap());
    assert_eq!(out.report.skipped.len(), 1);
    assert!(
        out.report.notes.iter().any(|n| n.contains("line 5")),
        "{:?}",
        out.report.notes
    );
}

#[test]
fn missing_or_unrecognisable_sources_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = dataset::import(
        &dir.path().join("nope"),
        None,
        Taxonomy::default_allidb(),
        &none,
    )
    .unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
    std::fs::write(dir.path().join("readme.txt"), "x").unwrap();
    let err = dataset::import(dir.path(), None, Taxonomy::default_allidb(), &none).unwrap_err();
    assert!(err.to_string().contains("--layout"), "{err}");
    // A folder of only broken images: an error, not a panic and not an empty project.
    let bad = dir.path().join("bad/monocyte");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("x.png"), [0u8; 10]).unwrap();
    let err = dataset::import(
        &dir.path().join("bad"),
        None,
        Taxonomy::default_allidb(),
        &none,
    )
    .unwrap_err();
    assert!(err.to_string().contains("no usable images"), "{err}");
    // And says why.
    assert!(err.to_string().contains("x.png"), "{err}");
    // A CSV whose rows all point at missing files says so.
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, "path,label\nnope/a.png,Basophil\n").unwrap();
    let err = dataset::import(&csv, Some(Layout::Csv), Taxonomy::default_allidb(), &none)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no usable images") && err.contains("a.png"),
        "{err}"
    );
}

#[test]
fn a_moved_dataset_is_relinked_by_content_hash_keeping_labels() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    for (i, f) in ["monocyte/a.png", "monocyte/b.png", "basophil/c.png"]
        .iter()
        .enumerate()
    {
        write_png(&root.join(f), i as u8 * 40);
    }
    let project_path = dir.path().join("projects/p.ron");
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    let project = Project::from_import("p", &project_path, &out, 1);
    assert_eq!(project.dataset_root, "../data");
    let mut ws = Workspace::create(&project_path, project).unwrap();
    let eos = ws.project.taxonomy.find("Eosinophil").unwrap();
    let first = ws
        .project
        .images
        .iter()
        .find(|i| i.path == "monocyte/a.png")
        .unwrap()
        .id;
    ws.set_labels(&[first], eos, "anna").unwrap();
    ws.save().unwrap();
    drop(ws);

    // Move and reorganise the dataset: different folder, different file names.
    let moved = dir.path().join("elsewhere/cells");
    std::fs::create_dir_all(&moved).unwrap();
    for (i, f) in ["monocyte/a.png", "monocyte/b.png", "basophil/c.png"]
        .iter()
        .enumerate()
    {
        std::fs::rename(root.join(f), moved.join(format!("renamed_{i}.png"))).unwrap();
    }
    let mut ws = Workspace::open(&project_path).unwrap();
    assert!(
        !ws.project
            .dataset_dir(&project_path)
            .join(&ws.project.images[0].path)
            .exists()
    );
    let found = ws.project.relink(&project_path, &moved, &none).unwrap();
    assert_eq!(found, 3);
    ws.mark_dirty();
    ws.save().unwrap();
    drop(ws); // frees the project's lock for the next opening
    let ws = Workspace::open(&project_path).unwrap();
    let im = ws.project.image(first).unwrap();
    assert_eq!(im.current, eos, "labels survive the relink");
    assert!(ws.project.image_path(&project_path, im).exists());
    assert_eq!(im.path, "renamed_0.png");
}

/// Copies (the same content twice) keep two files after a relink; images not in the new folder
/// keep their old files; a folder with none of the images changes nothing.
#[test]
fn relinking_keeps_copies_apart_and_unfound_images_where_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    write_png(&root.join("a/one.png"), 1);
    write_png(&root.join("b/copy.png"), 1); // the same content as a/one.png
    write_png(&root.join("c/other.png"), 2);
    let project_path = dir.path().join("p.ron");
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    let mut project = Project::from_import("p", &project_path, &out, 1);
    assert_eq!(project.images.len(), 3);

    // An empty folder: nothing found, nothing changed.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let before = project.clone();
    assert_eq!(project.relink(&project_path, &empty, &none).unwrap(), 0);
    assert_eq!(project, before);

    // The copies move to a new folder; c/other.png stays where it was.
    let moved = dir.path().join("moved");
    for f in ["a/one.png", "b/copy.png"] {
        std::fs::create_dir_all(moved.join(f).parent().unwrap()).unwrap();
        std::fs::rename(root.join(f), moved.join(f)).unwrap();
    }
    assert_eq!(project.relink(&project_path, &moved, &none).unwrap(), 2);
    let mut paths: Vec<String> = project.images.iter().map(|i| i.path.clone()).collect();
    paths.sort();
    assert_eq!(paths, ["../data/c/other.png", "a/one.png", "b/copy.png"]);
    for im in &project.images {
        assert!(
            project.image_path(&project_path, im).is_file(),
            "{}",
            im.path
        );
    }
}

#[test]
fn decode_never_panics_on_garbage() {
    let mut seed = 12345u64;
    for len in [1usize, 8, 16, 33, 100, 1000] {
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(seed as u8);
        }
        // Valid magic numbers followed by garbage exercise each decoder.
        for magic in [&b"\x89PNG\r\n\x1a\n"[..], b"\xFF\xD8\xFF", b"II*\0", b"BM"] {
            let mut v = magic.to_vec();
            v.extend_from_slice(&bytes);
            assert!(dataset::decode_rgb8(&v).is_err());
        }
    }
    let _ = PathBuf::new();
}

#[test]
fn a_blast_folder_becomes_a_positive_class_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (i, f) in [
        "blast/a.png",
        "blast/b.png",
        "erythroblast/c.png",
        "granulocyte/d.png",
    ]
    .iter()
    .enumerate()
    {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        cell(i as u8 * 30).save(&p).unwrap();
    }
    let out = dataset::import(
        root,
        Some(Layout::ImageFolder),
        Taxonomy::default_allidb(),
        &none,
    )
    .unwrap();
    let tax = &out.taxonomy;
    let class_of = |f: &str| out.images.iter().find(|i| i.rel_path == f).unwrap().class;
    assert!(tax.is_positive(class_of("blast/a.png")));
    assert!(!tax.is_positive(class_of("erythroblast/c.png")));
    assert!(!tax.is_positive(class_of("granulocyte/d.png")));
}

/// Images with no class: loose images in the chosen folder and a folder named "unlabeled" (an
/// image folder), and CSV rows with an empty class, all get the one "Unlabelled" class; every
/// training task leaves them out (never as a negative), and `predict --only unlabelled` chooses
/// exactly them. "unknown" stays a class of its own.
#[test]
fn images_without_a_class_become_unlabelled_and_no_task_trains_on_them() {
    use leukolens::quality::predict::{Only, chosen_images};
    use leukolens::sweep::presets::{SweepPreset, quick_demo};
    use leukolens::sweep::start::take_snapshot;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cells");
    let mut seed = 0u8;
    let mut put = |rel: String| {
        seed = seed.wrapping_add(13);
        write_png(&root.join(rel), seed);
    };
    for i in 0..6 {
        put(format!("blast/b{i}.png"));
        put(format!("monocyte/m{i}.png"));
        put(format!("unknown/k{i}.png"));
    }
    for i in 0..4 {
        put(format!("loose{i}.png"));
    }
    for i in 0..3 {
        put(format!("unlabeled/u{i}.png"));
    }
    assert_eq!(detect_layout(&root).unwrap(), Some(Layout::ImageFolder));
    let out = dataset::import(&root, None, Taxonomy::default_allidb(), &none).unwrap();
    assert!(out.report.skipped.is_empty(), "{:?}", out.report.skipped);
    assert_eq!(out.images.len(), 25);
    let tax = &out.taxonomy;
    let unlabelled = tax.unlabelled().expect("an Unlabelled class");
    assert_eq!(tax.name(unlabelled), "Unlabelled");
    assert!(tax.get(unlabelled).unwrap().unlabelled);
    assert_eq!(
        out.images.iter().filter(|i| i.class == unlabelled).count(),
        7,
        "4 loose images and 3 in unlabeled/"
    );
    let unknown = tax.find("unknown").expect("unknown stays a class");
    assert_ne!(unknown, unlabelled);
    let project_path = dir.path().join("p.ron");
    let project = Project::from_import("p", &project_path, &out, 5);
    let expected: Vec<_> = project
        .images
        .iter()
        .filter(|im| im.current == unlabelled)
        .map(|im| im.id)
        .collect();
    assert_eq!(chosen_images(&project, Only::Unlabelled).unwrap(), expected);
    assert_eq!(project.unlabelled_count(), 7);
    // Binary: blasts against the other 12 images, never the 7 unlabelled ones.
    let binary = take_snapshot(&project, &quick_demo(5)).unwrap();
    assert_eq!(binary.images.len(), 18);
    assert!(binary.images.iter().all(|id| !expected.contains(id)));
    assert_eq!(binary.targets.iter().filter(|&&t| t == 0).count(), 12);
    assert!(
        binary
            .notices
            .iter()
            .any(|n| n.contains("7 images in \"Unlabelled\" left out")),
        "{:?}",
        binary.notices
    );
    // Multiclass by default: every class with images except Unlabelled.
    let multi = take_snapshot(&project, &SweepPreset::PaperMulticlass.config(&project)).unwrap();
    assert_eq!(multi.output_names, ["Monocyte", "Blast", "unknown"]);
    assert!(multi.images.iter().all(|id| !expected.contains(id)));
    assert_eq!(multi.images.len(), 18);
    // Even when a task names the class itself, its images are left out.
    let mut groups = quick_demo(5);
    groups.task = leukolens::train::Task::Groups {
        positive: vec![tax.find("Blast").unwrap()],
        negative: vec![tax.find("Monocyte").unwrap(), unlabelled],
    };
    let g = take_snapshot(&project, &groups).unwrap();
    assert_eq!(g.images.len(), 12);

    // The proposed mapping has a row for the cells without a source name; the New-project
    // dialog hands it back as it is (an override "" → "Unlabelled"), or with a class typed.
    let proposal = dataset::propose_mapping(
        &root,
        None,
        &Taxonomy::default_allidb(),
        &Default::default(),
    )
    .unwrap();
    let none_row = proposal.rows.iter().find(|r| r.source.is_empty()).unwrap();
    assert_eq!((none_row.class.as_str(), none_row.count), ("Unlabelled", 4));
    let again = dataset::import_with(
        &root,
        None,
        Taxonomy::default_allidb(),
        &proposal.overrides(),
        &none,
    )
    .unwrap();
    let u = again.taxonomy.unlabelled().unwrap();
    assert_eq!(again.images.iter().filter(|i| i.class == u).count(), 7);
    let mut typed = proposal.overrides();
    typed.insert(String::new(), "Monocyte".into());
    let typed =
        dataset::import_with(&root, None, Taxonomy::default_allidb(), &typed, &none).unwrap();
    let mono = typed.taxonomy.find("Monocyte").unwrap();
    let of = |p: &str| typed.images.iter().find(|i| i.rel_path == p).unwrap().class;
    assert_eq!(
        of("loose0.png"),
        mono,
        "a class typed for the loose cells wins"
    );
    assert_eq!(of("unlabeled/u0.png"), typed.taxonomy.unlabelled().unwrap());

    // A CSV with empty class cells.
    let csv = root.join("labels.csv");
    std::fs::write(
        &csv,
        "path,label\nblast/b0.png,blast\nloose0.png,\nloose1.png, \nmonocyte/m0.png,Monocyte\n",
    )
    .unwrap();
    let out = dataset::import(&csv, None, Taxonomy::default_allidb(), &none).unwrap();
    assert_eq!(out.images.len(), 4, "{:?}", out.report);
    let u = out.taxonomy.unlabelled().unwrap();
    let of = |p: &str| out.images.iter().find(|i| i.rel_path == p).unwrap().class;
    assert_eq!((of("loose0.png"), of("loose1.png")), (u, u));
    assert_ne!(of("blast/b0.png"), u);
    assert!(
        out.report.notes.iter().any(|n| n.contains("Unlabelled")),
        "the report names the added class: {:?}",
        out.report.notes
    );
}
