//! The class list of a project: names, short codes, hotkeys, colours and the
//! "positive in the binary task" flag (blasts).
//!
//! Classes carry a stable numeric [`ClassId`] so that renaming a class never
//! touches any label: images refer to classes by id, never by name.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contrast::palette_colour;

/// Stable identifier of a class inside one project. Never reused after removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassId(pub u32);

impl std::fmt::Display for ClassId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One class of the taxonomy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassDef {
    pub id: ClassId,
    /// Full name shown to the user, e.g. "Segmented neutrophil".
    pub name: String,
    /// Short code, e.g. "NGS"; used in compact views and CSV exports.
    pub code: String,
    /// Key that assigns this class in the annotation view ('1'..'9', '0', or a letter).
    pub hotkey: Option<char>,
    /// Display colour, sRGB.
    pub color: [u8; 3],
    /// Positive in the binary task (a blast).
    pub positive: bool,
    /// The class of images nobody has classified ("Unlabelled"): training, sweeps and audits
    /// leave its images out. At most one class has it (see [`Taxonomy::unlabelled`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unlabelled: bool,
}

/// The name of the class [`Taxonomy::ensure_unlabelled`] adds.
pub const UNLABELLED_NAME: &str = "Unlabelled";

/// Whether a class or folder name means "no class": `unlabelled`, `unlabeled` or
/// `unclassified` (case, blanks, `_` and `-` ignored). "unknown" is not among them: datasets
/// use it as a class of its own.
pub fn means_unlabelled(name: &str) -> bool {
    let key: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    matches!(key.as_str(), "unlabelled" | "unlabeled" | "unclassified")
}

/// Why a taxonomy edit was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TaxonomyError {
    #[error("a class named \"{0}\" already exists")]
    DuplicateName(String),
    #[error("the code \"{0}\" is already used by another class")]
    DuplicateCode(String),
    #[error("the hotkey '{key}' is already bound to \"{class}\"")]
    DuplicateHotkey { key: char, class: String },
    #[error("a class name must not be empty")]
    EmptyName,
    #[error("no class with id {0}")]
    UnknownClass(ClassId),
    #[error("two classes have the id {0}; every class needs its own id")]
    DuplicateId(ClassId),
    #[error("the class id {0} is not below next_id ({1}): a new class would reuse it")]
    IdNotBelowNext(ClassId, u32),
}

/// Ordered list of classes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Taxonomy {
    pub classes: Vec<ClassDef>,
    /// Next id handed out by [`Taxonomy::add`]; ids are never reused.
    pub next_id: u32,
}

impl Default for Taxonomy {
    fn default() -> Self {
        Self::default_allidb()
    }
}

impl Taxonomy {
    /// An empty taxonomy.
    pub fn empty() -> Self {
        Self {
            classes: Vec::new(),
            next_id: 0,
        }
    }

    /// The ten classes a cytologist uses for ALL-IDB-like images, hotkeys 1–9 and 0.
    pub fn default_allidb() -> Self {
        let defs: [(&str, &str, bool); 10] = [
            ("Lymphoblast", "LBL", true),
            ("Typical lymphocyte", "LYT", false),
            ("Atypical lymphocyte", "LYA", false),
            ("Monocyte", "MON", false),
            ("Segmented neutrophil", "NGS", false),
            ("Band neutrophil", "NGB", false),
            ("Eosinophil", "EOS", false),
            ("Basophil", "BAS", false),
            ("Thrombocyte", "PLT", false),
            ("Smudge cell", "KSC", false),
        ];
        let mut t = Self::empty();
        for (i, (name, code, positive)) in defs.into_iter().enumerate() {
            let hotkey = char::from_digit(((i + 1) % 10) as u32, 10);
            t.classes.push(ClassDef {
                id: ClassId(i as u32),
                name: name.into(),
                code: code.into(),
                hotkey,
                color: palette_colour(i),
                positive,
                unlabelled: false,
            });
        }
        t.next_id = t.classes.len() as u32;
        t
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn get(&self, id: ClassId) -> Option<&ClassDef> {
        self.classes.iter().find(|c| c.id == id)
    }

    /// Position of a class in the ordered list.
    pub fn index_of(&self, id: ClassId) -> Option<usize> {
        self.classes.iter().position(|c| c.id == id)
    }

    /// Name of a class, or a placeholder for an unknown id (never panics).
    pub fn name(&self, id: ClassId) -> String {
        self.get(id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| format!("unknown {id}"))
    }

    /// Finds a class by name or code, ignoring case and surrounding blanks.
    pub fn find(&self, name_or_code: &str) -> Option<ClassId> {
        let q = name_or_code.trim();
        self.classes
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(q) || c.code.eq_ignore_ascii_case(q))
            .map(|c| c.id)
    }

    /// The class bound to a hotkey.
    pub fn by_hotkey(&self, key: char) -> Option<ClassId> {
        self.classes
            .iter()
            .find(|c| c.hotkey.is_some_and(|h| h.eq_ignore_ascii_case(&key)))
            .map(|c| c.id)
    }

    /// Whether `id` is positive in the binary task.
    pub fn is_positive(&self, id: ClassId) -> bool {
        self.get(id).is_some_and(|c| c.positive)
    }

    /// Adds a new class with a fresh id, a palette colour, no hotkey, and a code derived from
    /// the name (made unique). Refuses duplicate or empty names.
    pub fn add(&mut self, name: &str, positive: bool) -> Result<ClassId, TaxonomyError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(TaxonomyError::EmptyName);
        }
        if self
            .classes
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(name))
        {
            return Err(TaxonomyError::DuplicateName(name.into()));
        }
        let base: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(3)
            .collect::<String>()
            .to_ascii_uppercase();
        let base = if base.is_empty() { "CLS".into() } else { base };
        let mut code = base.clone();
        let mut k = 2;
        while self
            .classes
            .iter()
            .any(|c| c.code.eq_ignore_ascii_case(&code))
        {
            code = format!("{base}{k}");
            k += 1;
        }
        let id = ClassId(self.next_id);
        self.next_id += 1;
        let color = palette_colour(self.classes.len());
        self.classes.push(ClassDef {
            id,
            name: name.into(),
            code,
            hotkey: None,
            color,
            positive,
            unlabelled: false,
        });
        Ok(id)
    }

    /// The class of unclassified images: the class flagged `unlabelled`, else (projects from
    /// before the flag, or a class added by hand) the first class whose name
    /// [`means_unlabelled`]. The one place that decides which class that is.
    pub fn unlabelled(&self) -> Option<ClassId> {
        self.classes
            .iter()
            .find(|c| c.unlabelled)
            .or_else(|| self.classes.iter().find(|c| means_unlabelled(&c.name)))
            .map(|c| c.id)
    }

    /// Whether `id` is the class of unclassified images (never trained on).
    pub fn is_unlabelled(&self, id: ClassId) -> bool {
        self.unlabelled() == Some(id)
    }

    /// The class of unclassified images, flagged; added as "Unlabelled" (not positive, no
    /// hotkey) when the taxonomy has none.
    pub fn ensure_unlabelled(&mut self) -> ClassId {
        let id = match self.unlabelled() {
            Some(id) => id,
            None => {
                let mut name = UNLABELLED_NAME.to_string();
                // A class of that name exists only if `unlabelled()` found it; never loop on
                // user data all the same.
                let mut k = 2;
                while self.find(&name).is_some() {
                    name = format!("{UNLABELLED_NAME} {k}");
                    k += 1;
                }
                match self.add(&name, false) {
                    Ok(id) => id,
                    Err(_) => ClassId(self.next_id.saturating_sub(1)),
                }
            }
        };
        if let Ok(c) = self.get_mut(id) {
            c.unlabelled = true;
        }
        id
    }

    /// Renames a class; refuses duplicates and empty names. Labels are untouched (they hold ids).
    pub fn rename(&mut self, id: ClassId, new_name: &str) -> Result<(), TaxonomyError> {
        let new_name = new_name.trim();
        if new_name.is_empty() {
            return Err(TaxonomyError::EmptyName);
        }
        if self
            .classes
            .iter()
            .any(|c| c.id != id && c.name.eq_ignore_ascii_case(new_name))
        {
            return Err(TaxonomyError::DuplicateName(new_name.into()));
        }
        self.get_mut(id)?.name = new_name.into();
        Ok(())
    }

    /// Changes the short code; refuses duplicates.
    pub fn set_code(&mut self, id: ClassId, code: &str) -> Result<(), TaxonomyError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(TaxonomyError::EmptyName);
        }
        if self
            .classes
            .iter()
            .any(|c| c.id != id && c.code.eq_ignore_ascii_case(code))
        {
            return Err(TaxonomyError::DuplicateCode(code.into()));
        }
        self.get_mut(id)?.code = code.into();
        Ok(())
    }

    pub fn recolor(&mut self, id: ClassId, color: [u8; 3]) -> Result<(), TaxonomyError> {
        self.get_mut(id)?.color = color;
        Ok(())
    }

    pub fn set_positive(&mut self, id: ClassId, positive: bool) -> Result<(), TaxonomyError> {
        self.get_mut(id)?.positive = positive;
        Ok(())
    }

    /// Binds (or with `None` unbinds) a hotkey; refuses a key already bound to another class.
    pub fn set_hotkey(&mut self, id: ClassId, key: Option<char>) -> Result<(), TaxonomyError> {
        if let Some(k) = key
            && let Some(other) = self
                .classes
                .iter()
                .find(|c| c.id != id && c.hotkey.is_some_and(|h| h.eq_ignore_ascii_case(&k)))
        {
            return Err(TaxonomyError::DuplicateHotkey {
                key: k,
                class: other.name.clone(),
            });
        }
        self.get_mut(id)?.hotkey = key;
        Ok(())
    }

    /// Moves a class one place up (`up`) or down in the list: the order of tables, menus and the
    /// by-class sort. Ids, and so every label, hotkeys and colours stay as they are; a class
    /// already at that end stays put.
    pub fn move_class(&mut self, id: ClassId, up: bool) -> Result<(), TaxonomyError> {
        let i = self.index_of(id).ok_or(TaxonomyError::UnknownClass(id))?;
        let j = if up {
            i.checked_sub(1)
        } else {
            Some(i + 1).filter(|&j| j < self.classes.len())
        };
        if let Some(j) = j {
            self.classes.swap(i, j);
        }
        Ok(())
    }

    /// Checks the invariants (unique ids, names, codes, hotkeys). Used when loading a project.
    pub fn validate(&self) -> Result<(), TaxonomyError> {
        for (i, a) in self.classes.iter().enumerate() {
            if a.name.trim().is_empty() {
                return Err(TaxonomyError::EmptyName);
            }
            if a.id.0 >= self.next_id {
                return Err(TaxonomyError::IdNotBelowNext(a.id, self.next_id));
            }
            for b in &self.classes[i + 1..] {
                if a.id == b.id {
                    return Err(TaxonomyError::DuplicateId(a.id));
                }
                if a.name.eq_ignore_ascii_case(&b.name) {
                    return Err(TaxonomyError::DuplicateName(b.name.clone()));
                }
                if a.code.eq_ignore_ascii_case(&b.code) {
                    return Err(TaxonomyError::DuplicateCode(b.code.clone()));
                }
                if let (Some(x), Some(y)) = (a.hotkey, b.hotkey)
                    && x.eq_ignore_ascii_case(&y)
                {
                    return Err(TaxonomyError::DuplicateHotkey {
                        key: y,
                        class: a.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn get_mut(&mut self, id: ClassId) -> Result<&mut ClassDef, TaxonomyError> {
        self.classes
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or(TaxonomyError::UnknownClass(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_has_ten_classes_with_hotkeys_1_to_0() {
        let t = Taxonomy::default_allidb();
        assert_eq!(t.len(), 10);
        let keys: String = t.classes.iter().map(|c| c.hotkey.unwrap()).collect();
        assert_eq!(keys, "1234567890");
        assert_eq!(t.classes[0].name, "Lymphoblast");
        assert!(t.classes[0].positive);
        assert_eq!(t.classes.iter().filter(|c| c.positive).count(), 1);
        assert_eq!(t.by_hotkey('0'), t.find("Smudge cell"));
        t.validate().unwrap();
    }

    #[test]
    fn the_unlabelled_class_is_found_by_flag_or_name_and_added_once() {
        let mut t = Taxonomy::default_allidb();
        assert_eq!(t.unlabelled(), None);
        let id = t.ensure_unlabelled();
        assert_eq!(t.name(id), "Unlabelled");
        assert!(t.get(id).unwrap().unlabelled && !t.is_positive(id));
        assert_eq!(t.ensure_unlabelled(), id, "added once");
        assert!(t.is_unlabelled(id));
        assert!(!t.is_unlabelled(t.find("Monocyte").unwrap()));
        // Renaming keeps the flag.
        t.rename(id, "To do").unwrap();
        assert_eq!(t.unlabelled(), Some(id));
        // An older project: a class named like it, without the flag.
        let mut old = Taxonomy::default_allidb();
        let by_name = old.add("unclassified", false).unwrap();
        assert_eq!(old.unlabelled(), Some(by_name));
        assert_eq!(old.ensure_unlabelled(), by_name);
        assert!(old.get(by_name).unwrap().unlabelled);
        for (name, means) in [
            ("Unlabelled", true),
            ("un-labeled", true),
            ("UNCLASSIFIED", true),
            ("unknown", false),
            ("labelled", false),
        ] {
            assert_eq!(means_unlabelled(name), means, "{name}");
        }
    }

    #[test]
    fn moving_a_class_changes_only_the_order() {
        let mut t = Taxonomy::default_allidb();
        let before = t.clone();
        let mono = t.find("Monocyte").unwrap();
        let i = t.index_of(mono).unwrap();
        t.move_class(mono, true).unwrap();
        assert_eq!(t.index_of(mono), Some(i - 1));
        t.move_class(mono, false).unwrap();
        assert_eq!(t, before);
        // At the ends nothing moves.
        let first = t.classes[0].id;
        let last = t.classes[t.len() - 1].id;
        t.move_class(first, true).unwrap();
        t.move_class(last, false).unwrap();
        assert_eq!(t, before);
        t.move_class(mono, false).unwrap();
        let def = |t: &Taxonomy| t.get(mono).cloned();
        assert_eq!(
            def(&t),
            def(&before),
            "id, name, hotkey and colour unchanged"
        );
        assert!(t.move_class(ClassId(999), true).is_err());
        t.validate().unwrap();
    }

    #[test]
    fn edits_refuse_duplicates_and_keep_ids() {
        let mut t = Taxonomy::default_allidb();
        let mono = t.find("monocyte").unwrap();
        assert_eq!(
            t.rename(mono, "Basophil"),
            Err(TaxonomyError::DuplicateName("Basophil".into()))
        );
        t.rename(mono, "Monocyte (activated)").unwrap();
        assert_eq!(t.find("Monocyte (activated)"), Some(mono));
        assert!(matches!(
            t.set_hotkey(mono, Some('1')),
            Err(TaxonomyError::DuplicateHotkey { key: '1', .. })
        ));
        let new = t.add("Plasma cell", false).unwrap();
        assert_eq!(new, ClassId(10));
        assert!(t.add("plasma cell", false).is_err());
        assert!(t.add("   ", false).is_err());
        t.set_hotkey(new, Some('p')).unwrap();
        assert_eq!(t.by_hotkey('P'), Some(new));
        t.recolor(new, [1, 2, 3]).unwrap();
        assert_eq!(t.get(new).unwrap().color, [1, 2, 3]);
        t.validate().unwrap();
    }
}
