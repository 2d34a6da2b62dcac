//! TLS for every client connection the daemon opens (SMTP, IMAP, PostgreSQL): rustls with the
//! system's root certificates (`rustls-native-certs`, which honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`). One place, so the three clients trust the same roots.

use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// A client configuration trusting the system's roots, no client certificate.
pub(crate) fn client_config() -> ClientConfig {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A connector for `tokio` streams with [`client_config`].
pub(crate) fn connector() -> tokio_rustls::TlsConnector {
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(client_config()))
}
