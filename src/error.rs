//! The driver shell's one error type and its one conversion to NTSTATUS.

use ks::status::{
    STATUS_ACCESS_DENIED, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_STATE,
    STATUS_INVALID_PARAMETER, STATUS_NOT_FOUND, STATUS_NO_MATCH,
};
use ks::NTSTATUS;

/// Why a request to the camera's filter or pin failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverError {
    /// The camera core refused the request (format, range, state step...): its own status.
    Format(avstream::Error),
    /// The pin has no connection format (ks.sys always sets one; a broken caller).
    NoConnectionFormat,
    /// SetDataFormat on a connected pin: the format is fixed for the pin's life.
    FormatChange,
    /// The intersect handler was handed a range that is not one of the pin's.
    UnknownRange,
    /// Fault injection while the device's registry switch (`FaultInjection`) is off.
    InjectionDisabled,
    /// A filter or pin whose device has no context (its `Add` never ran).
    NoDevice,
    /// A property id the handler does not know, or an item whose sizes do not fit its value
    /// (a descriptor bug: ks.sys routes only declared ids, with the declared sizes).
    UnknownProperty,
    /// A failure injected on purpose (`KSPROPERTY_AVCAM_FAULTS_FAIL`): its status.
    Injected(NTSTATUS),
    /// A kernel or ks.sys service failed: which, and its status.
    Kernel {
        /// The service or request.
        call: &'static str,
        /// What it returned.
        status: NTSTATUS,
    },
}

impl DriverError {
    /// The NTSTATUS that completes the request.
    pub const fn status(&self) -> NTSTATUS {
        match self {
            DriverError::Format(error) => error.status(),
            DriverError::NoConnectionFormat => STATUS_INVALID_PARAMETER,
            DriverError::FormatChange => STATUS_INVALID_DEVICE_REQUEST,
            DriverError::UnknownRange => STATUS_NO_MATCH,
            DriverError::InjectionDisabled => STATUS_ACCESS_DENIED,
            DriverError::NoDevice => STATUS_INVALID_DEVICE_STATE,
            DriverError::UnknownProperty => STATUS_NOT_FOUND,
            DriverError::Injected(status) | DriverError::Kernel { status, .. } => *status,
        }
    }
}

impl From<avstream::Error> for DriverError {
    fn from(error: avstream::Error) -> Self {
        DriverError::Format(error)
    }
}

/// `Result<(), E>` to the NTSTATUS a dispatch routine returns.
pub trait IntoStatus {
    /// STATUS_SUCCESS or the error's status.
    fn into_status(self) -> NTSTATUS;
}

impl<E: Into<DriverError>> IntoStatus for Result<(), E> {
    fn into_status(self) -> NTSTATUS {
        match self {
            Ok(()) => ks::status::STATUS_SUCCESS,
            Err(error) => error.into().status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ks::status::STATUS_SUCCESS;

    #[test]
    fn core_errors_keep_their_status_and_ours_map_once() {
        let core = avstream::Error::NoMatch;
        assert_eq!(DriverError::from(core).status(), STATUS_NO_MATCH);
        assert_eq!(
            DriverError::FormatChange.status(),
            STATUS_INVALID_DEVICE_REQUEST
        );
        assert_eq!(Ok::<(), DriverError>(()).into_status(), STATUS_SUCCESS);
        assert_eq!(
            Err::<(), _>(DriverError::NoConnectionFormat).into_status(),
            STATUS_INVALID_PARAMETER
        );
    }
}
