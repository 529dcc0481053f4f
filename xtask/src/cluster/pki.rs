//! Certificates and keys for the local control plane: one CA, the
//! apiserver's serving certificate, an admin client certificate (used by
//! every component and by users), and the service-account signing key.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use base64::prelude::{BASE64_STANDARD, Engine as _};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::layout::{KUBERNETES_SERVICE_IP, StateDir};

/// Writes `ca.crt`, `apiserver.{crt,key}`, `admin.{crt,key}` and `sa.key`.
pub fn generate(state: &StateDir) -> Result<()> {
    fs::create_dir_all(state.pki(""))?;

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "coral-local-cluster-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca = Issuer::new(ca_params, ca_key);
    write(&state.pki("ca.crt"), &ca_cert.pem())?;

    let serving_names = [
        "localhost",
        "127.0.0.1",
        KUBERNETES_SERVICE_IP,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ];
    let mut serving = CertificateParams::new(serving_names.map(String::from).to_vec())?;
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_key = KeyPair::generate()?;
    write(
        &state.pki("apiserver.crt"),
        &serving.signed_by(&serving_key, &ca)?.pem(),
    )?;
    write(&state.pki("apiserver.key"), &serving_key.serialize_pem())?;

    // system:masters is the built-in cluster-admin group.
    let mut admin = CertificateParams::new(Vec::<String>::new())?;
    admin.distinguished_name.push(DnType::CommonName, "admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_key = KeyPair::generate()?;
    write(
        &state.pki("admin.crt"),
        &admin.signed_by(&admin_key, &ca)?.pem(),
    )?;
    write(&state.pki("admin.key"), &admin_key.serialize_pem())?;

    // ECDSA P-256 (ES256) service-account tokens; the apiserver verifies
    // with the public half.
    let sa_key = KeyPair::generate()?;
    write(&state.pki("sa.key"), &sa_key.serialize_pem())?;
    write(&state.pki("sa.pub"), &sa_key.public_key_pem())?;
    Ok(())
}

/// A kubeconfig for the admin user, with certificates inlined so it can be
/// copied elsewhere.
pub fn write_kubeconfig(state: &StateDir, server: &str) -> Result<()> {
    let b64 = |file: &str| -> Result<String> {
        let bytes = fs::read(state.pki(file))?;
        Ok(BASE64_STANDARD.encode(bytes))
    };
    let config = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: coral-local
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: coral-local-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: coral-local
  context:
    cluster: coral-local
    user: coral-local-admin
    namespace: default
current-context: coral-local
",
        ca = b64("ca.crt")?,
        cert = b64("admin.crt")?,
        key = b64("admin.key")?,
    );
    write(&state.kubeconfig(), &config)
}

fn write(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
