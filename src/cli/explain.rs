//! `leukolens explain`: a saliency or LRP map of one image, written as PNG.

use anyhow::Result;

use crate::explain::{ExplainRequest, Method, explain_to_png};

/// Explains as asked; `method` and `preset` are the command-line words.
pub(crate) fn run(
    method: &str,
    preset: Option<&str>,
    request: impl FnOnce(Method) -> ExplainRequest,
) -> Result<()> {
    let method = Method::from_cli(method, preset).map_err(anyhow::Error::msg)?;
    let report = explain_to_png(&request(method)).map_err(anyhow::Error::msg)?;
    println!("{}", report.summary());
    Ok(())
}
