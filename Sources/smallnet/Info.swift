// `smallnet info`: version, kernels and threads.
import ArgumentParser
import SmallNet

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version, the GEMM in use and the thread count.")

    func run() {
        print("smallnet \(SmallNetVersion.string)")
        print("gemm: \(KernelInfo.gemmDescription)")
        print("threads: \(ThreadPool.availableProcessors) (default; --threads N to change)")
        print("data: \(FashionMNIST.resolveDirectory(nil))")
    }
}
