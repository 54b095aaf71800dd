//! The identifiers other modules store beside project data (a sweep's snapshot and run
//! records name images by id). A leaf: it imports nothing of the crate, so saved types
//! elsewhere can use it without depending on the whole project module.

use serde::{Deserialize, Serialize};

/// Stable identifier of an image inside a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageId(pub u32);
