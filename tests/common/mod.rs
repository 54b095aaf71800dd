//! Helpers shared by the egui_kittest GUI tests: the app opened on a project in a harness.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use egui_kittest::Harness;
use leukolens::taxonomy::ClassId;
use leukolens::ui::{LeukoApp, Settings};

/// The settings most GUI tests use: annotator "tester", no auto-advance, small tiles.
pub fn tester_settings() -> Settings {
    Settings {
        annotator: Some("tester".into()),
        auto_advance: false,
        thumb_size: 64.0,
        ..Default::default()
    }
}

/// The app with `settings`, `path` opened (asserted), in a harness of `size` points.
pub fn harness_with(path: &Path, settings: Settings, size: [f32; 2]) -> Harness<'static, LeukoApp> {
    let mut app = LeukoApp::new(settings, None, None);
    app.open(path);
    assert!(app.project().is_some(), "{:?}", app.messages());
    Harness::builder()
        .with_size(size)
        .build_ui_state(|ui, app: &mut LeukoApp| app.show(ui), app)
}

/// The open project's class of that name.
pub fn class(h: &Harness<'_, LeukoApp>, name: &str) -> ClassId {
    h.state()
        .project()
        .unwrap()
        .project()
        .taxonomy
        .find(name)
        .unwrap()
}
