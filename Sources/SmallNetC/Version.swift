// Versions, error strings and the thread setting.
#if canImport(Glibc)
import Glibc
#endif
import CSmallNetABI
import SmallNet

private let versionString: UnsafePointer<CChar> = UnsafePointer(strdup(SmallNetVersion.string)!)

@_cdecl("sn_version_string")
public func sn_version_string() -> UnsafePointer<CChar> { versionString }

@_cdecl("sn_abi_version")
public func sn_abi_version() -> UInt32 { UInt32(SN_ABI_VERSION) }

@_cdecl("sn_last_error")
public func sn_last_error() -> UnsafePointer<CChar> { lastErrorPointer() }

private let statusNames: [UnsafePointer<CChar>] = ([
    "ok", "invalid argument", "shape mismatch", "out of memory", "I/O error", "bad state", "not found",
    "internal error", "training diverged",
] as [String]).map { UnsafePointer(strdup($0)!) }
private let unknownStatus: UnsafePointer<CChar> = UnsafePointer(strdup("unknown status")!)

@_cdecl("sn_status_string")
public func sn_status_string(_ status: sn_status) -> UnsafePointer<CChar> {
    status >= 0 && Int(status) < statusNames.count ? statusNames[Int(status)] : unknownStatus
}

@_cdecl("sn_set_num_threads")
public func sn_set_num_threads(_ n: Int32) -> sn_status {
    guarded {
        guard n >= 0 && n <= 64 else { throw invalid("thread count must be 0 (the default) or 1...64, got \(n)") }
        SharedThreads.shared.set(n == 0 ? ThreadPool.availableProcessors : Int(n))
    }
}

@_cdecl("sn_get_num_threads")
public func sn_get_num_threads() -> Int32 { Int32(SharedThreads.shared.threadCount) }
