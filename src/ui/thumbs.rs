//! Gallery thumbnails: decoded on background threads (through the on-disk cache of
//! [`ThumbStore`]), uploaded as textures on the UI thread, kept in a bounded LRU.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use crate::dataset::thumbs::ThumbStore;
use crate::project::ImageId;

/// Pixel size of cached thumbnails (tiles are drawn at any size from it).
pub const THUMB_SIDE: u32 = 160;
/// Textures kept in memory (a 160 px RGBA texture is ~100 KiB: ~200 MiB at most).
pub const MAX_TEXTURES: usize = 2000;
const WORKERS: usize = 2;
/// Thumbnails turned into textures per frame at most.
pub const UPLOADS_PER_FRAME: usize = 24;

type Job = (ImageId, String, PathBuf);
type Done = (ImageId, Result<image::RgbImage, String>);

/// What a tile can show.
pub enum Thumb<'a> {
    Ready(&'a egui::TextureHandle),
    Loading,
    Failed(&'a str),
}

pub struct Thumbnails {
    /// Requests, newest first (what is on screen now matters most).
    queue: Arc<Mutex<VecDeque<Job>>>,
    wake: Sender<()>,
    results: Receiver<Done>,
    textures: HashMap<ImageId, egui::TextureHandle>,
    lru: VecDeque<ImageId>,
    pending: HashSet<ImageId>,
    failed: HashMap<ImageId, String>,
    /// Textures decoded so far (for the benchmark).
    pub decoded: usize,
}

impl Thumbnails {
    pub fn new(project_path: &Path) -> Self {
        let store = ThumbStore::for_project(project_path);
        let queue: Arc<Mutex<VecDeque<Job>>> = Arc::default();
        let (wake_tx, wake_rx) = channel::<()>();
        let wake_rx = Arc::new(Mutex::new(wake_rx));
        let (done_tx, done_rx) = channel::<Done>();
        for i in 0..WORKERS {
            let queue = queue.clone();
            let wake_rx = wake_rx.clone();
            let done_tx = done_tx.clone();
            let store = store.clone();
            let _ = std::thread::Builder::new()
                .name(format!("thumbs-{i}"))
                .spawn(move || {
                    loop {
                        let job = queue.lock().ok().and_then(|mut q| q.pop_front());
                        match job {
                            Some((id, hash, path)) => {
                                let r = store
                                    .load_or_make(&hash, &path, THUMB_SIDE)
                                    .map_err(|e| e.to_string());
                                if done_tx.send((id, r)).is_err() {
                                    return;
                                }
                            }
                            None => {
                                // Sleep until there is work; exit when the owner is gone.
                                let rx = match wake_rx.lock() {
                                    Ok(rx) => rx,
                                    Err(_) => return,
                                };
                                if rx.recv().is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
        }
        Self {
            queue,
            wake: wake_tx,
            results: done_rx,
            textures: HashMap::new(),
            lru: VecDeque::new(),
            pending: HashSet::new(),
            failed: HashMap::new(),
            decoded: 0,
        }
    }

    /// The thumbnail of an image, asking for it when it is not there yet.
    pub fn get(&mut self, id: ImageId, hash: &str, path: &Path) -> Thumb<'_> {
        if let Some(e) = self.failed.get(&id) {
            return Thumb::Failed(e);
        }
        if self.textures.contains_key(&id) {
            if let Some(k) = self.lru.iter().rposition(|&x| x == id)
                && k + 64 < self.lru.len()
            {
                // Refresh recency only now and then: keeps this O(1) amortised while scrolling.
                self.lru.remove(k);
                self.lru.push_back(id);
            }
            return Thumb::Ready(&self.textures[&id]);
        }
        if self.pending.insert(id)
            && let Ok(mut q) = self.queue.lock()
        {
            q.push_front((id, hash.to_string(), path.to_path_buf()));
            let _ = self.wake.send(());
        }
        Thumb::Loading
    }

    /// Forgets requests for tiles that scrolled away (they are asked for again if they return).
    pub fn retain_requests(&mut self, visible: &HashSet<ImageId>) {
        if let Ok(mut q) = self.queue.lock() {
            q.retain(|(id, _, _)| {
                let keep = visible.contains(id);
                if !keep {
                    self.pending.remove(id);
                }
                keep
            });
        }
    }

    /// Uploads finished thumbnails (UI thread, once per frame), at most
    /// [`UPLOADS_PER_FRAME`] per frame so that a burst of arrivals does not stall a frame.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let mut any = false;
        let mut uploaded = 0;
        while uploaded < UPLOADS_PER_FRAME
            && let Ok((id, r)) = self.results.try_recv()
        {
            uploaded += 1;
            self.pending.remove(&id);
            any = true;
            match r {
                Ok(img) => {
                    let size = [img.width() as usize, img.height() as usize];
                    let color = egui::ColorImage::from_rgb(size, img.as_raw());
                    let tex = ctx.load_texture(
                        format!("thumb-{}", id.0),
                        color,
                        egui::TextureOptions::LINEAR,
                    );
                    self.textures.insert(id, tex);
                    self.lru.push_back(id);
                    self.decoded += 1;
                    while self.textures.len() > MAX_TEXTURES {
                        match self.lru.pop_front() {
                            Some(old) => {
                                self.textures.remove(&old);
                            }
                            None => break,
                        }
                    }
                }
                Err(e) => {
                    self.failed.insert(id, e);
                }
            }
        }
        if any || !self.pending.is_empty() {
            ctx.request_repaint_after(std::time::Duration::from_millis(30));
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn loaded(&self) -> usize {
        self.textures.len()
    }
}
