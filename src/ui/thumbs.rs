//! Gallery thumbnails: decoded on background threads (through the on-disk cache of
//! [`ThumbStore`]), uploaded as textures on the UI thread, kept in a bounded LRU.
//! The cache is behind a `RefCell`: screens draw from a read-only context, and asking for a
//! thumbnail (which may queue a decode) is a lookup, not a change of the application state.

use std::cell::RefCell;
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
pub enum Thumb {
    Ready(egui::TextureHandle),
    Loading,
    Failed(String),
}

/// The thumbnails of one project: decoder threads and the texture cache.
pub struct Thumbnails {
    /// Requests, newest first (what is on screen now matters most).
    queue: Arc<Mutex<VecDeque<Job>>>,
    wake: Sender<()>,
    results: Receiver<Done>,
    cache: RefCell<Cache>,
}

/// The textures, their recency, and what is pending or failed.
#[derive(Default)]
struct Cache {
    textures: HashMap<ImageId, egui::TextureHandle>,
    lru: VecDeque<ImageId>,
    pending: HashSet<ImageId>,
    failed: HashMap<ImageId, String>,
    /// Textures decoded so far (for the benchmark).
    decoded: usize,
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
            cache: RefCell::default(),
        }
    }

    /// The thumbnail of an image, asking for it when it is not there yet.
    pub fn get(&self, id: ImageId, hash: &str, path: &Path) -> Thumb {
        let mut c = self.cache.borrow_mut();
        if let Some(e) = c.failed.get(&id) {
            return Thumb::Failed(e.clone());
        }
        if let Some(tex) = c.textures.get(&id).cloned() {
            if let Some(k) = c.lru.iter().rposition(|&x| x == id)
                && k + 64 < c.lru.len()
            {
                // Refresh recency only now and then: keeps this O(1) amortised while scrolling.
                c.lru.remove(k);
                c.lru.push_back(id);
            }
            return Thumb::Ready(tex);
        }
        if c.pending.insert(id)
            && let Ok(mut q) = self.queue.lock()
        {
            q.push_front((id, hash.to_string(), path.to_path_buf()));
            let _ = self.wake.send(());
        }
        Thumb::Loading
    }

    /// Forgets requests for tiles that scrolled away (they are asked for again if they return).
    pub fn retain_requests(&self, visible: &HashSet<ImageId>) {
        let mut c = self.cache.borrow_mut();
        if let Ok(mut q) = self.queue.lock() {
            q.retain(|(id, _, _)| {
                let keep = visible.contains(id);
                if !keep {
                    c.pending.remove(id);
                }
                keep
            });
        }
    }

    /// Uploads finished thumbnails (UI thread, once per frame), at most
    /// [`UPLOADS_PER_FRAME`] per frame so that a burst of arrivals does not stall a frame.
    pub fn poll(&self, ctx: &egui::Context) {
        let c = &mut *self.cache.borrow_mut();
        let mut any = false;
        let mut uploaded = 0;
        while uploaded < UPLOADS_PER_FRAME
            && let Ok((id, r)) = self.results.try_recv()
        {
            uploaded += 1;
            c.pending.remove(&id);
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
                    c.textures.insert(id, tex);
                    c.lru.push_back(id);
                    c.decoded += 1;
                    while c.textures.len() > MAX_TEXTURES {
                        match c.lru.pop_front() {
                            Some(old) => {
                                c.textures.remove(&old);
                            }
                            None => break,
                        }
                    }
                }
                Err(e) => {
                    c.failed.insert(id, e);
                }
            }
        }
        if any || !c.pending.is_empty() {
            ctx.request_repaint_after(std::time::Duration::from_millis(30));
        }
    }

    /// Thumbnails asked for and not decoded yet.
    pub fn pending(&self) -> usize {
        self.cache.borrow().pending.len()
    }

    /// Textures in memory.
    pub fn loaded(&self) -> usize {
        self.cache.borrow().textures.len()
    }

    /// Textures decoded so far (for the benchmark).
    pub fn decoded(&self) -> usize {
        self.cache.borrow().decoded
    }
}
