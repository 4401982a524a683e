import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * PKI for one control plane, generated with the `openssl` CLI (OpenSSL >= 1.1.1; no npm deps).
 * All keys are ECDSA P-256 (fast to generate; accepted by kube-apiserver for serving, client
 * certs and service-account token signing).
 */
export interface ControlPlaneCerts {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  controllerManagerCert: string;
  controllerManagerKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

const OPENSSL = process.env['OPENSSL'] ?? 'openssl';
const DAYS = '3650';

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(OPENSSL, args, { cwd }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

async function ecKey(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], dir);
  return path;
}

async function signedCert(
  dir: string,
  name: string,
  subject: string,
  extensions: string[],
  ca: { cert: string; key: string },
): Promise<{ cert: string; key: string }> {
  const key = await ecKey(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions.join('\n') + '\n');
  await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  await openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', DAYS, '-sha256', '-extfile', ext, '-out', cert],
    dir,
  );
  return { cert, key };
}

/** Client certificates of the node's components and of the API server toward the kubelet. */
export interface NodeClientCerts {
  kubelet: { cert: string; key: string };
  kubeProxy: { cert: string; key: string };
  kubeScheduler: { cert: string; key: string };
  apiserverKubeletClient: { cert: string; key: string };
}

/**
 * Signs, with the plane's CA in `certs`, the client certificates a node needs: the kubelet's
 * (`system:node:<name>` in `system:nodes`, what the Node authorizer expects), kube-proxy's and
 * kube-scheduler's (bound by the default RBAC policy), and the API server's toward the kubelet.
 */
export async function generateNodeClientCerts(certs: ControlPlaneCerts, nodeName: string, dir = certs.dir): Promise<NodeClientCerts> {
  const ca = { cert: certs.caCert, key: certs.caKey };
  const clientExt = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth'];
  return {
    kubelet: await signedCert(dir, 'kubelet', `/O=system:nodes/CN=system:node:${nodeName}`, clientExt, ca),
    kubeProxy: await signedCert(dir, 'kube-proxy', '/CN=system:kube-proxy', clientExt, ca),
    kubeScheduler: await signedCert(dir, 'kube-scheduler', '/CN=system:kube-scheduler', clientExt, ca),
    apiserverKubeletClient: await signedCert(dir, 'apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', clientExt, ca),
  };
}

/** Generate CA, API server serving cert, admin + controller-manager client certs and SA key pair in `dir`. */
export async function generateCerts(dir: string, extraSans: string[] = []): Promise<ControlPlaneCerts> {
  const caKey = await ecKey(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  await openssl(
    [
      'req', '-x509', '-new', '-key', caKey, '-subj', '/CN=kaos-e2e-ca', '-days', DAYS, '-sha256',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
      '-out', caCert,
    ],
    dir,
  );
  const ca = { cert: caCert, key: caKey };
  const sans = [
    'IP:127.0.0.1', 'DNS:localhost', 'IP:10.0.0.1', 'DNS:kubernetes', 'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', ...extraSans,
  ];
  const serving = await signedCert(
    dir, 'apiserver', '/CN=kube-apiserver',
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', `subjectAltName=${sans.join(',')}`],
    ca,
  );
  const clientExt = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth'];
  const admin = await signedCert(dir, 'admin', '/O=system:masters/CN=kaos-e2e-admin', clientExt, ca);
  const kcm = await signedCert(dir, 'kube-controller-manager', '/CN=system:kube-controller-manager', clientExt, ca);
  const serviceAccountKey = await ecKey(dir, 'sa.key');
  const serviceAccountPub = join(dir, 'sa.pub');
  await openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub], dir);
  return {
    dir, caCert, caKey,
    servingCert: serving.cert, servingKey: serving.key,
    adminCert: admin.cert, adminKey: admin.key,
    controllerManagerCert: kcm.cert, controllerManagerKey: kcm.key,
    serviceAccountKey, serviceAccountPub,
  };
}
