//! Finding the labels worth fixing: confident learning over out-of-fold probabilities
//! (`confident`), agreement between annotators (`agreement`), and, built on the project and the
//! sweep machinery, the audit (`audit`), its ranked suspects (`suspects`) and each annotator's
//! labels as the project stores them (`annotators`); the model's pre-labels matched to the
//! images (`prelabels`), blind mode's order and own labels (`blind`), and the Label next queue
//! spread over the audit's probabilities (`spread`). No GUI code.

pub mod agreement;
pub mod annotators;
pub mod audit;
pub mod blind;
pub mod confident;
pub mod noise;
pub mod predict;
pub mod prelabels;
pub mod spread;
pub mod suspects;
