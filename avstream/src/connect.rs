//! The pin create request: `KSPIN_CONNECT` followed by the `KSDATAFORMAT` the client wants,
//! parsed once into a [`PinConnect`] (pin id + validated [`VideoFormat`]).
//!
//! A capture pin is a sink a client connects to, so the request must name the standard
//! streaming interface (`KSINTERFACESETID_Standard` / `KSINTERFACE_STANDARD_STREAMING`), the
//! standard device-I/O medium (`KSMEDIUMSETID_Standard` / `KSMEDIUM_TYPE_ANYINSTANCE`) and no
//! pin to connect to (`PinToHandle` null); otherwise `STATUS_NO_MATCH`, as for a format no
//! range accepts. A pin id beyond the filter's pin factories is `STATUS_INVALID_PARAMETER`
//! ([`Error::PinId`]).

use ks::video::{
    KSINTERFACESETID_Standard, KSMEDIUMSETID_Standard, KSINTERFACE_STANDARD_STREAMING,
    KSMEDIUM_TYPE_ANYINSTANCE, KSPIN_CONNECT,
};
use zerocopy::FromBytes;

use crate::error::Error;
use crate::format::VideoFormat;

/// `sizeof(KSPIN_CONNECT)`: where the data format starts in a create request.
pub const PIN_CONNECT_SIZE: usize = core::mem::size_of::<KSPIN_CONNECT>();

/// A validated pin create request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinConnect {
    /// The pin factory (`KSPIN_CONNECT.PinId`).
    pub pin_id: u32,
    /// The format the pin starts with.
    pub format: VideoFormat,
}

impl PinConnect {
    /// Parses a create request for a filter with `pin_count` pin factories.
    pub fn parse(bytes: &[u8], pin_count: u32) -> Result<PinConnect, Error> {
        let (connect, format_bytes) =
            KSPIN_CONNECT::read_from_prefix(bytes).map_err(|_| Error::Truncated {
                len: bytes.len(),
                needed: PIN_CONNECT_SIZE,
            })?;
        if connect.PinId >= pin_count {
            return Err(Error::PinId {
                id: connect.PinId,
                count: pin_count,
            });
        }
        let interface = connect.Interface;
        if interface.Set != KSINTERFACESETID_Standard
            || interface.Id != KSINTERFACE_STANDARD_STREAMING
        {
            return Err(Error::Interface {
                set: interface.Set,
                id: interface.Id,
            });
        }
        let medium = connect.Medium;
        if medium.Set != KSMEDIUMSETID_Standard || medium.Id != KSMEDIUM_TYPE_ANYINSTANCE {
            return Err(Error::Medium {
                set: medium.Set,
                id: medium.Id,
            });
        }
        if connect.PinToHandle != 0 {
            return Err(Error::PinToPin);
        }
        let format = VideoFormat::parse(format_bytes)?;
        Ok(PinConnect {
            pin_id: connect.PinId,
            format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixel::{FrameSize, PixelFormat};
    use ks::ks::KSIDENTIFIER;
    use ks::status::{STATUS_INVALID_PARAMETER, STATUS_NO_MATCH};
    use ks::video::{KSPRIORITY, KSPRIORITY_NORMAL};
    use ks::GUID;
    use std::vec::Vec;
    use zerocopy::IntoBytes;

    fn request(change: impl FnOnce(&mut KSPIN_CONNECT)) -> Vec<u8> {
        let mut connect = KSPIN_CONNECT {
            Interface: KSIDENTIFIER {
                Set: KSINTERFACESETID_Standard,
                Id: KSINTERFACE_STANDARD_STREAMING,
                Flags: 0,
            },
            Medium: KSIDENTIFIER {
                Set: KSMEDIUMSETID_Standard,
                Id: KSMEDIUM_TYPE_ANYINSTANCE,
                Flags: 0,
            },
            PinId: 0,
            _pad: 0,
            PinToHandle: 0,
            Priority: KSPRIORITY {
                PriorityClass: KSPRIORITY_NORMAL,
                PrioritySubClass: 1,
            },
        };
        change(&mut connect);
        let format = VideoFormat::new(PixelFormat::Nv12, FrameSize::HD720, 333_333).unwrap();
        let mut bytes = connect.as_bytes().to_vec();
        bytes.extend_from_slice(format.to_ks().as_bytes());
        bytes
    }

    #[test]
    fn a_standard_request_parses() {
        let c = PinConnect::parse(&request(|_| {}), 1).unwrap();
        assert_eq!(c.pin_id, 0);
        assert_eq!(c.format.size(), FrameSize::HD720);
    }

    #[test]
    fn malformed_requests_get_their_status() {
        let cases: [(Vec<u8>, Error); 5] = [
            (request(|c| c.PinId = 1), Error::PinId { id: 1, count: 1 }),
            (
                request(|c| c.Interface.Set = GUID::NULL),
                Error::Interface {
                    set: GUID::NULL,
                    id: 0,
                },
            ),
            (
                request(|c| c.Interface.Id = 1),
                Error::Interface {
                    set: KSINTERFACESETID_Standard,
                    id: 1,
                },
            ),
            (
                request(|c| c.Medium.Id = 3),
                Error::Medium {
                    set: KSMEDIUMSETID_Standard,
                    id: 3,
                },
            ),
            (request(|c| c.PinToHandle = 0x40), Error::PinToPin),
        ];
        for (bytes, expected) in cases {
            assert_eq!(PinConnect::parse(&bytes, 1), Err(expected));
        }
        assert_eq!(
            Error::PinId { id: 1, count: 1 }.status(),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(Error::PinToPin.status(), STATUS_NO_MATCH);
        let bytes = request(|_| {});
        assert_eq!(
            PinConnect::parse(&bytes[..40], 1),
            Err(Error::Truncated {
                len: 40,
                needed: 72
            })
        );
        // The format is validated too.
        assert_eq!(
            PinConnect::parse(&bytes[..100], 1),
            Err(Error::Truncated {
                len: 28,
                needed: 64
            })
        );
    }
}
