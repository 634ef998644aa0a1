//! The one error shape every front end receives: a stable code to decide by, an English
//! message for logs and IT, a whole-Japanese message for the screen, and the form field it
//! concerns when there is one.

use serde::Serialize;
use ts_rs::TS;

use crate::DeviceError;

/// Why a request failed. The app shows `message_ja` and decides by `code`; nothing stored was
/// lost by any failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ApiError {
    /// Stable machine code (`wrong_pin`, `date_no_such_day`, `unreachable`, ...).
    pub code: String,
    /// English, for logs and IT.
    pub message: String,
    /// Japanese, whole, for the screen.
    pub message_ja: String,
    /// The input field it concerns (`name`, `next_due`, ...), for marking it in a form.
    pub field: Option<String>,
    /// Whether the user's input is the cause (as opposed to the device, network or server).
    pub bad_input: bool,
}

impl ApiError {
    /// An error of the front door itself (not of a use case).
    pub(crate) fn new(code: &str, message: &str, message_ja: &str, bad_input: bool) -> ApiError {
        ApiError {
            code: code.to_owned(),
            message: message.to_owned(),
            message_ja: message_ja.to_owned(),
            field: None,
            bad_input,
        }
    }

    /// The app is locked: unlock with the PIN first.
    pub(crate) fn locked() -> ApiError {
        ApiError::new(
            "app_locked",
            "the app is locked: unlock it with the PIN",
            "ロックされています。PINを入力してください。",
            false,
        )
    }

    /// The device has not been set up (no enrollment yet).
    pub(crate) fn not_set_up() -> ApiError {
        ApiError::new(
            "not_initialized",
            "this device has not been set up yet",
            "この端末はまだ設定されていません。登録用データで設定してください。",
            false,
        )
    }
}

impl ApiError {
    /// The shape of a device error that is kept (reported, and also returned or logged).
    pub fn from_ref(e: &DeviceError) -> ApiError {
        ApiError {
            code: e.code().to_owned(),
            message: e.to_string(),
            message_ja: e.message_ja(),
            field: e.field().map(str::to_owned),
            bad_input: e.is_bad_input(),
        }
    }
}

impl From<DeviceError> for ApiError {
    fn from(e: DeviceError) -> ApiError {
        ApiError::from_ref(&e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}
