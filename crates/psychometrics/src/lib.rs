//! Pure psychometrics for MyQCM.
