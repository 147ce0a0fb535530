// The parameter-budget study: which runs make up the three tables, and the published figures.
import SmallNet

/// One training run of the study.
struct StudyRun {
    /// Which table it belongs to: 1 (FCN budgets), 2 (optimizers × learning rates), 3 (CNN budgets).
    let table: Int
    /// A file-name-safe identifier, e.g. "t2-cnn-100k-adam-0.005".
    let id: String
    let arch: Architecture
    let budget: Int
    let optimizer: OptimizerKind?
    let learningRate: Float?
    /// The figure of the reference report for this row (a fraction), if it has one.
    let published: Double?

    /// Arguments of `smallnet train` for this run (without output and data options).
    func trainArguments(quick: Bool) -> [String] {
        var args = ["train", "--arch", arch.rawValue, "--params", String(budget), "--seed", "0"]
        if let optimizer { args += ["--optimizer", optimizer.rawValue] }
        if let learningRate { args += ["--lr", "\(learningRate)"] }
        if table == 2 { args += StudyPlan.table2Settings }
        if quick {
            args += ["--epochs", "1", "--train-limit", arch == .fcn ? "6000" : "1500"]
        } else if table == 2 {
            args += ["--epochs", String(StudyPlan.table2Epochs)]
        }
        return args
    }
}

/// The study of the reference report, reproduced with smallnet's recipes.
enum StudyPlan {
    /// Table 2 compares optimizers and learning rates; shorter runs keep the study under the
    /// time it is given, and every configuration gets the same budget.
    static let table2Epochs = 10
    /// Table 2 isolates the optimizer: every run starts from PyTorch's default initialisation
    /// (the start a PyTorch user gets), with no weight decay and no augmentation (which slows
    /// the small learning rates most in short runs); the rest is the CNN recipe.
    static let table2Settings = ["--initialization", "pytorch", "--weight-decay", "0", "--augment", "none"]
    static var table2Description: String {
        "100K CNN, \(table2Epochs) epochs from PyTorch's default initialisation, no weight decay, no augmentation; "
            + "otherwise the CNN recipe: batch 64, cosine schedule, label smoothing 0.1, SGD momentum 0.9"
    }

    static let fcnBudgets = [50_000, 100_000, 200_000]
    static let cnnBudgets = [10_000, 20_000, 50_000, 100_000]
    static let learningRates: [Float] = [0.01, 0.005, 0.001]
    static let optimizers: [OptimizerKind] = [.sgd, .adam, .rmsprop]

    /// The reference report's test accuracies.
    static let publishedFCN: [Int: Double] = [50_000: 0.8769, 100_000: 0.8815, 200_000: 0.8800]
    static let publishedCNN: [Int: Double] = [10_000: 0.7875, 20_000: 0.7938, 50_000: 0.8988, 100_000: 0.9171]
    static let publishedTable2: [OptimizerKind: [Double]] = [.sgd: [0.9155, 0.9171, 0.8966], .adam: [0.9058, 0.9093, 0.8932]]

    static var runs: [StudyRun] {
        var runs: [StudyRun] = []
        for b in fcnBudgets {
            runs.append(StudyRun(table: 1, id: "t1-fcn-\(b / 1000)k", arch: .fcn, budget: b, optimizer: nil,
                                 learningRate: nil, published: publishedFCN[b]))
        }
        for b in cnnBudgets {
            runs.append(StudyRun(table: 3, id: "t3-cnn-\(b / 1000)k", arch: .cnn, budget: b, optimizer: nil,
                                 learningRate: nil, published: publishedCNN[b]))
        }
        for o in optimizers {
            for (i, lr) in learningRates.enumerated() {
                runs.append(StudyRun(table: 2, id: "t2-cnn-100k-\(o.rawValue)-\(lr)", arch: .cnn, budget: 100_000,
                                     optimizer: o, learningRate: lr, published: publishedTable2[o]?[i]))
            }
        }
        return runs
    }
}
