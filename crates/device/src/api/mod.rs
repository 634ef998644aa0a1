//! The one interface of every front end: the serializable requests and responses of the
//! front door ([`crate::App`]), shared by the Tauri commands and the CLI's `--json`, and the
//! one error shape. TypeScript declarations for the UI are generated from these types
//! (`ui/src/lib/api/generated/`, checked by a test).

mod cases;
mod drafts;
mod error;
mod records;
mod reference;
mod session;
mod sync;
mod today;

pub use cases::*;
pub use drafts::*;
pub use error::ApiError;
pub use records::*;
pub use reference::*;
pub use session::*;
pub use sync::*;
pub use today::*;
