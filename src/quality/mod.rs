//! Finding the labels worth fixing: confident learning over out-of-fold probabilities
//! (`confident`), agreement between annotators (`agreement`), and, built on the project and the
//! sweep machinery, the audit (`audit`), its ranked suspects (`suspects`) and each annotator's
//! labels rebuilt from the journal (`annotators`), the Label next queue spread over the
//! audit's probabilities (`spread`). No GUI code.

pub mod agreement;
pub mod annotators;
pub mod audit;
pub mod confident;
pub mod noise;
pub mod predict;
pub mod spread;
pub mod suspects;
