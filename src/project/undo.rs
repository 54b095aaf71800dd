//! Undo and redo of label changes, across any number of steps, bulk changes included.
//! Undoing is itself a label change (journaled like any other), so the audit trail shows it.

use super::{LabelChange, ProjectError, Workspace};

/// One user action: the label changes it made (a bulk assignment is one action).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Action {
    pub changes: Vec<LabelChange>,
}

/// The undo and redo stacks.
#[derive(Clone, Debug, Default)]
pub struct UndoStack {
    undo: Vec<Action>,
    redo: Vec<Action>,
}

impl UndoStack {
    /// Records a new action (clears the redo stack). Empty actions are ignored.
    pub fn push(&mut self, changes: Vec<LabelChange>) {
        if changes.is_empty() {
            return;
        }
        self.undo.push(Action { changes });
        self.redo.clear();
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }

    /// Reverts the last action; returns the changes applied (the reverse of the action).
    pub fn undo(
        &mut self,
        ws: &mut Workspace,
        annotator: &str,
    ) -> Result<Option<Vec<LabelChange>>, ProjectError> {
        let Some(action) = self.undo.pop() else {
            return Ok(None);
        };
        let reverse: Vec<LabelChange> = action
            .changes
            .iter()
            .rev()
            .map(|c| LabelChange {
                image: c.image,
                old: c.new,
                new: c.old,
            })
            .collect();
        if let Err(e) = ws.apply(&reverse, annotator) {
            self.undo.push(action);
            return Err(e);
        }
        self.redo.push(action);
        Ok(Some(reverse))
    }

    /// Re-applies the last undone action.
    pub fn redo(
        &mut self,
        ws: &mut Workspace,
        annotator: &str,
    ) -> Result<Option<Vec<LabelChange>>, ProjectError> {
        let Some(action) = self.redo.pop() else {
            return Ok(None);
        };
        if let Err(e) = ws.apply(&action.changes, annotator) {
            self.redo.push(action);
            return Err(e);
        }
        let applied = action.changes.clone();
        self.undo.push(action);
        Ok(Some(applied))
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }
}
