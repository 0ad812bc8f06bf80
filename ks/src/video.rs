//! Video formats: KSDATAFORMAT, KS_VIDEOINFOHEADER, KS_DATARANGE_VIDEO and the format GUIDs
//! (ks.h, ksmedia.h). Filled in by the camera layer.
